build/server/worker.o: server/worker.c common/log.h common/util.h \
 server/worker.h
common/log.h:
common/util.h:
server/worker.h:
