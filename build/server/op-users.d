build/server/op-users.o: server/op-users.c server/audit.h common/clock.h \
 server/db.h common/mp.h server/ops.h common/proto.h server/password.h \
 server/users.h server/server.h server/config.h common/frame.h \
 server/session.h common/util.h
server/audit.h:
common/clock.h:
server/db.h:
common/mp.h:
server/ops.h:
common/proto.h:
server/password.h:
server/users.h:
server/server.h:
server/config.h:
common/frame.h:
server/session.h:
common/util.h:
