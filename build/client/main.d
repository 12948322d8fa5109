build/client/main.o: client/main.c client/client.h client/net.h \
 common/frame.h common/proto.h common/util.h
client/client.h:
client/net.h:
common/frame.h:
common/proto.h:
common/util.h:
