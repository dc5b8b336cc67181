world

