/* meter.h - how many jobs run at once, counted across the processes of the jobserver programs.
 *
 * The chapter's module: scaffolding shared by advanced_jobserver, advanced_jobserver_client,
 * advanced_jobserver_gnu_make and the jobs they start.  It is not their lesson (the tokens are): it
 * only lets each demo show that the jobserver kept its limit.  The count lives in a memfd mapped
 * MAP_SHARED, not in MAP_ANONYMOUS memory: a mapping does not survive exec, an inherited descriptor
 * does (a job is told its number with --meter-fd).  test_meter checks it.
 */
#ifndef METER_H
#define METER_H

/* A fresh meter at zero, mapped in this process; returns its descriptor, without FD_CLOEXEC
 * so that exec'd jobs inherit it.  Dies on failure. */
int meter_create(void);
/* Maps the meter behind an inherited descriptor (which stays open); dies on failure. */
void meter_map(int fd);
/* One more job running (delta +1) or one fewer (-1), narrated as "[who] start, N running
 * now" or "[who] end after MS ms, N running now"; the highest count is kept. */
void meter_count(int delta, const char *who, unsigned ms);
/* The most jobs that ran at once so far. */
int meter_max(void);
/* Unmaps the meter (the descriptor is the caller's to close). */
void meter_unmap(void);

#endif
