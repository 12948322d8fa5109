build/server/audit.o: server/audit.c server/audit.h server/db.h \
 common/log.h server/ops.h common/proto.h common/util.h
server/audit.h:
server/db.h:
common/log.h:
server/ops.h:
common/proto.h:
common/util.h:
