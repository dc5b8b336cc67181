/* sibling.h - the path of a program built beside the running one.
 *
 * The chapter's second module, scaffolding like meter.h: the jobserver programs exec each
 * other (advanced_jobserver runs advanced_jobserver_client and advanced_jobserver_gnu_make,
 * which runs the client too), and all of them are built in this folder.  test_sibling
 * checks it.
 */
#ifndef SIBLING_H
#define SIBLING_H

/* The absolute path of `program` in the directory of this program (program_invocation_name,
 * which must hold a '/': run as ./name), checked to be executable.  malloc'ed: the caller
 * frees it.  Dies with a hint when this program was run through PATH or `program` is not
 * there. */
char *sibling_path(const char *program);

#endif
