build/server/config.o: server/config.c server/config.h common/proto.h \
 common/util.h
server/config.h:
common/proto.h:
common/util.h:
