build/server/op-audit.o: server/op-audit.c server/audit.h server/db.h \
 common/mp.h server/ops.h common/proto.h common/util.h
server/audit.h:
server/db.h:
common/mp.h:
server/ops.h:
common/proto.h:
common/util.h:
