build/client/net.o: client/net.c common/frame.h common/json.h common/mp.h \
 client/net.h common/proto.h common/util.h
common/frame.h:
common/json.h:
common/mp.h:
client/net.h:
common/proto.h:
common/util.h:
