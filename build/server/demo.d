build/server/demo.o: server/demo.c server/audit.h common/clock.h \
 server/db.h server/demo.h common/log.h server/password.h server/users.h \
 common/proto.h common/util.h
server/audit.h:
common/clock.h:
server/db.h:
server/demo.h:
common/log.h:
server/password.h:
server/users.h:
common/proto.h:
common/util.h:
