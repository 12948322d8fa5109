build/server/conn.o: server/conn.c server/conn.h common/frame.h \
 common/log.h common/mp.h server/ops.h common/proto.h server/server.h \
 server/config.h server/session.h common/util.h
server/conn.h:
common/frame.h:
common/log.h:
common/mp.h:
server/ops.h:
common/proto.h:
server/server.h:
server/config.h:
server/session.h:
common/util.h:
