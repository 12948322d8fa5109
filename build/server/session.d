build/server/session.o: server/session.c server/db.h common/log.h \
 server/server.h server/config.h common/frame.h server/session.h \
 common/proto.h common/util.h
server/db.h:
common/log.h:
server/server.h:
server/config.h:
common/frame.h:
server/session.h:
common/proto.h:
common/util.h:
