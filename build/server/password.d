build/server/password.o: server/password.c server/ops.h common/proto.h \
 server/password.h server/users.h server/server.h server/config.h \
 common/frame.h common/util.h server/worker.h
server/ops.h:
common/proto.h:
server/password.h:
server/users.h:
server/server.h:
server/config.h:
common/frame.h:
common/util.h:
server/worker.h:
