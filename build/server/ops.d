build/server/ops.o: server/ops.c server/audit.h common/clock.h \
 server/conn.h common/frame.h common/log.h common/mp.h server/ops.h \
 common/proto.h server/ratelimit.h server/server.h server/config.h \
 server/session.h common/util.h
server/audit.h:
common/clock.h:
server/conn.h:
common/frame.h:
common/log.h:
common/mp.h:
server/ops.h:
common/proto.h:
server/ratelimit.h:
server/server.h:
server/config.h:
server/session.h:
common/util.h:
