build/server/op-auth.o: server/op-auth.c server/audit.h common/clock.h \
 server/conn.h server/db.h common/log.h common/mp.h server/ops.h \
 common/proto.h server/password.h server/users.h server/ratelimit.h \
 server/server.h server/config.h common/frame.h server/session.h \
 common/util.h
server/audit.h:
common/clock.h:
server/conn.h:
server/db.h:
common/log.h:
common/mp.h:
server/ops.h:
common/proto.h:
server/password.h:
server/users.h:
server/ratelimit.h:
server/server.h:
server/config.h:
common/frame.h:
server/session.h:
common/util.h:
