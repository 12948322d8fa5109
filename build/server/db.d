build/server/db.o: server/db.c server/db.h common/log.h common/util.h
server/db.h:
common/log.h:
common/util.h:
