# MediFlow -- `make run` and `make test` are all a newcomer needs.

PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
O	?= build

SERVER_PKGS	= libevent libevent_pthreads msgpack sqlite3 libsodium libcurl jansson pwquality
CLIENT_PKGS	= libevent msgpack libsodium ncursesw jansson
TEST_PKGS	= cmocka
ALL_PKGS	= $(sort $(SERVER_PKGS) $(CLIENT_PKGS) $(TEST_PKGS))
DEB_PKGS	= build-essential pkg-config libevent-dev libmsgpack-dev libsqlite3-dev \
		  libsodium-dev libcurl4-openssl-dev libjansson-dev libpwquality-dev \
		  cracklib-runtime tzdata libncurses-dev libcmocka-dev sqlite3 tmux \
		  python3-aiosmtpd chromium valgrind
# The web tests' node and npm, installed only when npm is missing: a node
# from elsewhere (NodeSource's) carries its own npm and conflicts with these.
NODE_DEB_PKGS	= nodejs npm

WARN	= -Wall -Wextra -Werror -Wmissing-prototypes -Wshadow -Wstrict-prototypes \
	  -Wpointer-arith -Wformat=2
CSTD	= -std=gnu11 -D_GNU_SOURCE
OPT	?= -O2 -g
ifeq ($(SAN),1)
OPT	= -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# libFuzzer builds (make fuzz): coverage for every object, the fuzzer's
# main only in the targets.
ifeq ($(FUZZ),1)
OPT	= -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	  -fno-sanitize-recover=all
endif

PKG_CFLAGS_SERVER := $(shell pkg-config --cflags $(SERVER_PKGS) 2>/dev/null)
PKG_LIBS_SERVER   := $(shell pkg-config --libs $(SERVER_PKGS) 2>/dev/null)
PKG_CFLAGS_CLIENT := $(shell pkg-config --cflags $(CLIENT_PKGS) 2>/dev/null)
PKG_LIBS_CLIENT   := $(shell pkg-config --libs $(CLIENT_PKGS) 2>/dev/null)
PKG_CFLAGS_TEST   := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
PKG_LIBS_TEST     := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -Icommon -Iserver -Iclient -I$(O) \
	     $(PKG_CFLAGS_SERVER) $(PKG_CFLAGS_CLIENT) $(PKG_CFLAGS_TEST) $(CFLAGS)
LDFLAGS_ALL = $(OPT) -pthread $(LDFLAGS)

COMMON_SRC	= common/util.c common/log.c common/clock.c common/proto.c \
		  common/frame.c common/mp.c common/json.c common/channel.c common/channel-ev.c
SERVER_LIB_SRC	= server/server.c server/config.c server/db.c server/walbuf.c server/session.c server/ratelimit.c \
		  server/worker.c server/audit.c server/users.c server/password.c \
		  server/ops.c server/conn.c server/op-auth.c server/op-users.c \
		  server/op-audit.c server/op-misc.c server/demo.c \
		  server/clinic-time.c server/doctors.c server/availability.c \
		  server/appointments.c server/readcache.c server/holds.c server/cancel-reasons.c server/op-doctors.c server/op-appt.c \
		  server/front-desk.c server/op-front-desk.c \
		  server/patients.c server/op-patients.c \
		  server/curl-loop.c server/mailer.c server/sms.c server/reminders.c \
		  server/op-notify.c server/chat.c server/op-chat.c \
		  server/notifications.c server/op-notifications.c \
		  server/access.c server/records.c server/op-records.c \
		  server/prescriptions.c server/op-rx.c \
		  server/files.c server/op-files.c \
		  server/http.c server/http-route.c \
		  server/backup.c server/op-backup.c
SERVER_SRC	= server/main.c
CLIENT_LIB_SRC	= client/net.c
CLIENT_SRC	= client/main.c client/call.c client/tui.c client/tui-conn.c client/tui-draw.c client/tui-dialog.c client/ui-login.c client/ui-board.c client/ui-appt.c client/ui-patients.c client/ui-doctor.c client/ui-patient.c client/ui-admin.c client/ui-command.c client/ui-daysheet.c client/ui-chart.c client/ui-chat.c client/ui-outbox.c client/ui-hours.c client/ui-desk.c
MIGRATIONS	= $(sort $(wildcard data/migrations/*.sql))
WEB_FILES	= $(sort $(wildcard server/web/*))

obj = $(patsubst %.c,$(O)/%.o,$(1))
COMMON_OBJ	= $(call obj,$(COMMON_SRC))
SERVER_LIB_OBJ	= $(call obj,$(SERVER_LIB_SRC)) $(O)/migrations.o $(O)/web.o
CLIENT_LIB_OBJ	= $(call obj,$(CLIENT_LIB_SRC))

UNIT_TESTS	= $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(wildcard tests/unit/test_*.c))
INTEG_TESTS	= $(patsubst tests/integration/%.c,$(O)/tests/integration/%,$(wildcard tests/integration/test_*.c))
TEST_HELPERS	= $(O)/tests/integration/harness.o $(O)/tests/integration/clinic.o

.PHONY: FORCE all deps bench-deps test unit integration run asan bench install clean check-deps fmt bench-http bench-fanout bench-bin fuzz valgrind

all: check-deps $(O)/mediflowd $(O)/mediflow

# Installs Debian's -dev packages when pkg-config cannot find them.
deps:
	@if pkg-config --exists $(ALL_PKGS) 2>/dev/null && \
	    [ -e /var/cache/cracklib/cracklib_dict.pwd ] && command -v tmux >/dev/null && \
	    [ -e /usr/share/zoneinfo/America/New_York ] && \
	    /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null && [ -x /usr/bin/chromium ] && \
	    command -v valgrind >/dev/null; then \
		echo "deps: all libraries found"; \
	else \
		echo "deps: installing $(DEB_PKGS)"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS); \
	fi
	@command -v node >/dev/null && command -v npm >/dev/null || { \
		echo "deps: installing $(NODE_DEB_PKGS)"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(NODE_DEB_PKGS); }

check-deps:
	@pkg-config --exists $(ALL_PKGS) || { echo "missing libraries: run 'make deps'"; exit 1; }

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The file lists, rewritten only when a file comes or goes, so a new
# migration or page file regenerates the C even if it is older than it.
$(O)/%.list: FORCE
	@mkdir -p $(O)
	@echo '$(if $(filter migrations,$*),$(MIGRATIONS),$(WEB_FILES))' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

FORCE:

$(O)/migrations.c: server/gen-migrations.sh $(MIGRATIONS) $(O)/migrations.list
	@mkdir -p $(O)
	sh server/gen-migrations.sh $(MIGRATIONS) > $@

$(O)/migrations.o: $(O)/migrations.c
	$(CC) $(CFLAGS_ALL) -Wno-overlength-strings -c $< -o $@

# The patient web page, embedded in the server.
$(O)/web.c: server/gen-web.sh $(WEB_FILES) $(O)/web.list
	@mkdir -p $(O)
	sh server/gen-web.sh $(WEB_FILES) > $@

$(O)/web.o: $(O)/web.c server/web.h
	@echo "CC $<"
	@$(CC) $(CFLAGS_ALL) -c $< -o $@

$(O)/mediflowd: $(call obj,$(SERVER_SRC)) $(SERVER_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) $(PKG_LIBS_SERVER)

$(O)/mediflow: $(call obj,$(CLIENT_SRC)) $(CLIENT_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) $(PKG_LIBS_CLIENT)

# Unit tests link the server and common objects they test.
$(O)/tests/unit/%: $(O)/tests/unit/%.o $(SERVER_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) $(PKG_LIBS_SERVER) $(PKG_LIBS_TEST)

$(O)/tests/integration/%: $(O)/tests/integration/%.o $(TEST_HELPERS) $(CLIENT_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) $(PKG_LIBS_SERVER) $(PKG_LIBS_TEST)

test: deps
	@$(MAKE) --no-print-directory check-tests

check-tests: all $(BENCH_BIN) $(UNIT_TESTS) $(INTEG_TESTS)
	@O=$(O) sh tests/run.sh $(UNIT_TESTS) $(INTEG_TESTS) tests/tui/run.sh \
	    tests/web/run.sh

unit: all $(UNIT_TESTS)
	@O=$(O) sh tests/run.sh $(UNIT_TESTS)

integration: all $(INTEG_TESTS)
	@O=$(O) sh tests/run.sh $(INTEG_TESTS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) --no-print-directory O=build-asan SAN=1 check-tests

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang in build-fuzz
# and run FUZZ_SECONDS each from tests/fuzz/corpus/<target>; what they find
# goes to build-fuzz/corpus/<target>, crashes to build-fuzz/crashes/.
FUZZ_SECONDS	?= 60
FUZZ_O		= build-fuzz
FUZZ_TARGETS	= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz: deps
	@$(MAKE) --no-print-directory O=$(FUZZ_O) CC=clang FUZZ=1 \
	    $(patsubst %,$(FUZZ_O)/tests/fuzz/%,$(FUZZ_TARGETS))
	@sh tests/fuzz/run.sh $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

.PRECIOUS: $(O)/tests/fuzz/%.o
$(O)/tests/fuzz/%: $(O)/tests/fuzz/%.o $(SERVER_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) -fsanitize=fuzzer $(PKG_LIBS_SERVER)

# The integration tests with mediflowd under valgrind's memcheck: an error or
# a definite leak makes the server exit 99 at its SIGTERM, which fails the
# test that started it (the report is in the log the harness prints).
# VALGRIND_JOBS programs at a time, the slowest first so the runners end
# together; the harness's waits 20 times longer; and the servers hash
# passwords at libsodium's minimum cost (--test-weak-hashes, tests only),
# as argon2id at 64 MiB takes seconds under valgrind. VALGRIND_TESTS=
# "test_auth test_chat" runs only those.
VALGRIND	= valgrind --error-exitcode=99 --leak-check=full \
		  --errors-for-leak-kinds=definite --show-leak-kinds=definite \
		  --num-callers=30
VALGRIND_JOBS	?= 2
VALGRIND_SLOW	= reminders hostile frames crash files secure auth front_desk2 backup
VALGRIND_TESTS	?= $(foreach t,$(VALGRIND_SLOW),$(filter %/test_$(t),$(INTEG_TESTS))) \
		   $(filter-out $(foreach t,$(VALGRIND_SLOW),%/test_$(t)),$(INTEG_TESTS))
VALGRIND_RUN	= $(foreach t,$(VALGRIND_TESTS),$(O)/tests/integration/$(notdir $(t)))
valgrind: deps
	@$(MAKE) --no-print-directory all $(VALGRIND_RUN)
	@MF_SERVER_WRAPPER="$(VALGRIND)" MF_TEST_TIME_SCALE=20 MF_TEST_WEAK_HASHES=1 \
	    MF_TEST_JOBS=$(VALGRIND_JOBS) O=$(O) sh tests/run.sh $(VALGRIND_RUN)

# A fresh demo clinic. On a terminal: the server in the background (log in
# data/demo/server.log) and the client at its login screen; quitting the
# client stops the server. Without a terminal: the server in the foreground.
RUN_ADDR = 127.0.0.1:7400
run: deps
	@$(MAKE) --no-print-directory all
	@rm -rf data/demo && mkdir -p data/demo
	@echo "Demo logins (password: password123): receptionist@test.com doctor@test.com"
	@echo "  admin@test.com patient@test.com"
	@if [ -t 0 ] && [ -t 1 ]; then \
		$(O)/mediflowd --demo --data-dir data/demo --listen $(RUN_ADDR) \
		    >data/demo/server.out 2>data/demo/server.log & pid=$$!; \
		trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT INT TERM; \
		i=0; until grep -q listening data/demo/server.out 2>/dev/null; do \
			i=$$((i + 1)); \
			if [ $$i -gt 300 ] || ! kill -0 $$pid 2>/dev/null; then \
				cat data/demo/server.log; exit 1; fi; \
			sleep 0.1; \
		done; \
		fp=$$($(O)/mediflowd --fingerprint --data-dir data/demo); \
		$(O)/mediflow --server $(RUN_ADDR) --fingerprint "$$fp"; \
	else \
		echo "Starting mediflowd on $(RUN_ADDR); $(O)/mediflow opens the client."; \
		exec $(O)/mediflowd --demo --data-dir data/demo --listen $(RUN_ADDR); \
	fi

# The bench's programs. `make test` builds them too, so a change that breaks
# their build (a new object the store needs, say) fails the tests, not the
# next `make bench`.
BENCH_BIN = $(O)/bench/loadgen $(O)/bench/gendata $(O)/bench/bookfloor \
	$(O)/bench/fanout
bench-bin: check-deps $(BENCH_BIN)

# redis-benchmark is the reference every figure is compared with.
bench-deps: deps
	@command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || { \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-tools; }

bench: bench-deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	sh bench/run.sh $(O) && sh bench/sched.sh $(O) && sh bench/http.sh $(O)

# wrk on the HTTP adapter against an Express 5 hello-world route in the same
# run (bench/http.sh installs wrk with apt-get and express with npm if missing).
bench-http: deps
	@$(MAKE) --no-print-directory all
	sh bench/http.sh $(O)

# One sender, 1,000 receivers: chat.message fan-out against redis PUBLISH to
# 1,000 subscribers in the same run (bench/fanout.sh).
bench-fanout: bench-deps
	@$(MAKE) --no-print-directory $(O)/mediflowd $(O)/bench/fanout
	sh bench/fanout.sh $(O)

$(O)/bench/fanout: $(O)/bench/fanout.o $(CLIENT_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) $(PKG_LIBS_SERVER) $(PKG_LIBS_CLIENT)

$(O)/bench/loadgen: $(O)/bench/loadgen.o $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) $(PKG_LIBS_SERVER)

$(O)/bench/bookfloor: $(O)/bench/bookfloor.o $(SERVER_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) $(PKG_LIBS_SERVER)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(O)/mediflowd $(O)/mediflow $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-asan

-include $(shell find $(O) -name '*.d' 2>/dev/null)

$(O)/bench/gendata: $(O)/bench/gendata.o $(O)/server/db.o $(O)/server/walbuf.o \
		$(O)/server/patients.o $(O)/server/users.o $(O)/server/clinic-time.o $(O)/migrations.o $(COMMON_OBJ)
	$(CC) $^ -o $@ $(LDFLAGS_ALL) $(PKG_LIBS_SERVER)
