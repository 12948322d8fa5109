build/server/op-misc.o: server/op-misc.c common/clock.h server/conn.h \
 server/db.h common/mp.h server/ops.h common/proto.h server/server.h \
 server/config.h common/frame.h server/worker.h
common/clock.h:
server/conn.h:
server/db.h:
common/mp.h:
server/ops.h:
common/proto.h:
server/server.h:
server/config.h:
common/frame.h:
server/worker.h:
