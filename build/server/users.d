build/server/users.o: server/users.c server/db.h common/mp.h \
 server/users.h common/proto.h common/util.h
server/db.h:
common/mp.h:
server/users.h:
common/proto.h:
common/util.h:
