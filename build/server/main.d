build/server/main.o: server/main.c common/clock.h server/conn.h \
 server/db.h server/demo.h common/log.h server/ops.h common/proto.h \
 server/password.h server/users.h server/ratelimit.h server/server.h \
 server/config.h common/frame.h common/util.h server/worker.h
common/clock.h:
server/conn.h:
server/db.h:
server/demo.h:
common/log.h:
server/ops.h:
common/proto.h:
server/password.h:
server/users.h:
server/ratelimit.h:
server/server.h:
server/config.h:
common/frame.h:
common/util.h:
server/worker.h:
