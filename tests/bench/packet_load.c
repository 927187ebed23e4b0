/* The packet-path bench's load generator and servers (tests/bench/packet.py
 * drives them): new TCP connections per second with their latency, and UDP
 * round trips per second, against a minimal server of each kind.
 *
 *   packet_load serve tcp PORT [--workers N]
 *   packet_load serve udp PORT [--workers N]
 *   packet_load tcp|udp ADDRESS PORT [--seconds S] [--warmup S] [--concurrency C] [--threads T] [--pin]
 *   packet_load tcp --in NETNS ADDRESS PORT [--in NETNS ADDRESS PORT]... [--slice S] [--settle S]
 *
 * A TCP client connects, sends one small request, reads the response until
 * the server closes, and closes: one connection is one sample, timed from
 * socket() to the end of the response (so the handshake, where NAT acts, is
 * in it). A UDP client keeps one datagram in flight per socket and times its
 * echo. With several targets (each a server reached from the network
 * namespace NETNS, a path such as /run/netns/NAME), the clients take turns
 * between them, SLICE seconds each (0.2 unless told), for SECONDS each in
 * all: the load of a shared machine drifts over seconds, by more than the
 * differences the bench looks for, and targets measured in alternating
 * turns of one run see the same drift. A connection counts for the target
 * it was opened to, when it was opened within the measured time and more
 * than SETTLE seconds (0.05) into a turn, after the connections to the
 * target before have finished; the rates are per second of counted time.
 * The server is as lean as it can be, so that the kernel's share of
 * the work (what the bench compares) is as large as it can be: a real
 * service spends more per request, and would see a smaller difference.
 * Prints one line of figures; servers print "listening" once bound, then
 * serve until killed. A test tool, not part of portredir. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define MAX_TARGETS 16
/* How long, after the measured time, the connections opened within it may
 * take to finish: beyond it they are left out (a lost SYN takes 1 s). */
#define DRAIN_NS (2000 * 1000 * 1000LL)
/* A datagram without its echo after this long was lost: sent again. */
#define UDP_LOST_NS (200 * 1000 * 1000LL)

static const char request[] = "GET / HTTP/1.0\r\n\r\n";
static const char response[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";

struct options {
	const char *address;
	int port;
	double seconds;
	double warmup;
	int concurrency;
	int threads;
	int workers;
	bool pin;
	double slice;
	double settle;
};

struct target {
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} address;
	socklen_t length;
	int family;
	/* The network namespace its sockets are made in; -1: the caller's. */
	int netns;
};

static struct target targets[MAX_TARGETS];
static int target_count;

static int64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "packet_load: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int parse_target(struct target *target, const char *address, int port)
{
	memset(target, 0, sizeof(*target));
	target->netns = -1;
	if (inet_pton(AF_INET, address, &target->address.v4.sin_addr) == 1) {
		target->address.v4.sin_family = AF_INET;
		target->address.v4.sin_port = htons((uint16_t)port);
		target->length = sizeof(target->address.v4);
		target->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, address, &target->address.v6.sin6_addr) == 1) {
		target->address.v6.sin6_family = AF_INET6;
		target->address.v6.sin6_port = htons((uint16_t)port);
		target->length = sizeof(target->address.v6);
		target->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* Samples of one thread, in microseconds. */
struct samples {
	uint32_t *values;
	size_t count;
	size_t capacity;
	uint64_t errors;
	uint64_t lost;
};

static void record(struct samples *samples, int64_t nanoseconds)
{
	if (samples->count == samples->capacity) {
		size_t capacity = samples->capacity ? samples->capacity * 2 : 65536;
		uint32_t *values = realloc(samples->values, capacity * sizeof(*values));

		if (!values)
			die("realloc");
		samples->values = values;
		samples->capacity = capacity;
	}
	samples->values[samples->count++] = (uint32_t)(nanoseconds / 1000);
}

struct client {
	pthread_t thread;
	const struct options *options;
	int concurrency;
	/* Slices are counted from here (the start of the warm-up). */
	int64_t origin;
	int64_t slice_ns;
	int64_t settle_ns;
	int64_t measure_from;
	int64_t measure_until;
	/* The namespace this thread is in now (an index into targets). */
	int netns_of;
	struct samples samples[MAX_TARGETS];
};

/* Whose turn it is at NOW. */
static int turn(const struct client *client, int64_t now)
{
	if (target_count == 1)
		return 0;
	return (int)(((now - client->origin) / client->slice_ns) % target_count);
}

/* Whether a connection opened at STARTED counts: within the measured time,
 * and, with several targets, not at the start of a turn, while the last
 * connections to the target before are still open (they would make the
 * turn's figures a mix of both). */
static bool measured(const struct client *client, int64_t started)
{
	if (started < client->measure_from || started >= client->measure_until)
		return false;
	return target_count == 1 || (started - client->origin) % client->slice_ns >= client->settle_ns;
}

/* Sockets belong to the namespace their thread is in when they are made. */
static void enter_netns_of(struct client *client, int index)
{
	if (targets[index].netns < 0 || client->netns_of == index ||
	    (client->netns_of >= 0 && targets[client->netns_of].netns == targets[index].netns))
		return;
	if (setns(targets[index].netns, CLONE_NEWNET) < 0)
		die("setns");
	client->netns_of = index;
}

/* TCP: one slot per connection in flight. */
struct tcp_slot {
	int fd;
	bool connected;
	int target;
	int64_t started;
};

static void tcp_start(int epoll, struct tcp_slot *slot, struct client *client)
{
	struct epoll_event event = { .events = EPOLLOUT, .data.ptr = slot };

	for (;;) {
		const struct target *target;

		slot->started = now_ns();
		slot->connected = false;
		slot->target = turn(client, slot->started);
		target = &targets[slot->target];
		enter_netns_of(client, slot->target);
		slot->fd = socket(target->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (slot->fd < 0)
			die("socket");
		if (connect(slot->fd, (const struct sockaddr *)&target->address, target->length) == 0 ||
		    errno == EINPROGRESS)
			break;
		/* Out of local ports or refused at once: counted, and again. */
		client->samples[slot->target].errors++;
		close(slot->fd);
	}
	if (epoll_ctl(epoll, EPOLL_CTL_ADD, slot->fd, &event) < 0)
		die("epoll_ctl");
}

static void tcp_finish(struct tcp_slot *slot)
{
	close(slot->fd);
	slot->fd = -1;
}

/* Called on any event of the slot's socket; true once the connection is over. */
static bool tcp_event(int epoll, struct tcp_slot *slot, uint32_t events, struct samples *samples,
		      bool *ret_completed)
{
	char buffer[512];
	ssize_t length;

	*ret_completed = false;
	if (!slot->connected) {
		int error = 0;
		socklen_t size = sizeof(error);
		struct epoll_event event = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = slot };

		getsockopt(slot->fd, SOL_SOCKET, SO_ERROR, &error, &size);
		if (error || (events & (EPOLLERR | EPOLLHUP))) {
			samples->errors++;
			return true;
		}
		slot->connected = true;
		if (write(slot->fd, request, sizeof(request) - 1) != (ssize_t)(sizeof(request) - 1)) {
			samples->errors++;
			return true;
		}
		if (epoll_ctl(epoll, EPOLL_CTL_MOD, slot->fd, &event) < 0)
			die("epoll_ctl");
		return false;
	}
	for (;;) {
		length = read(slot->fd, buffer, sizeof(buffer));
		if (length > 0)
			continue;
		if (length == 0) {
			*ret_completed = true;
			return true;
		}
		if (errno == EAGAIN)
			return false;
		samples->errors++;
		return true;
	}
}

/* Whether a connection opened within the measured time is still open. */
static bool tcp_measured_open(const struct client *client, const struct tcp_slot *slots)
{
	for (int i = 0; i < client->concurrency; i++)
		if (slots[i].fd >= 0 && slots[i].started >= client->measure_from &&
		    slots[i].started < client->measure_until)
			return true;
	return false;
}

static void *tcp_client(void *data)
{
	struct client *client = data;
	struct epoll_event events[MAX_EVENTS];
	struct tcp_slot *slots = calloc((size_t)client->concurrency, sizeof(*slots));
	int epoll = epoll_create1(EPOLL_CLOEXEC);

	if (!slots || epoll < 0)
		die("setup");
	for (int i = 0; i < client->concurrency; i++)
		tcp_start(epoll, &slots[i], client);
	for (;;) {
		int64_t now = now_ns();
		int count;

		/* The load goes on while the last measured connections finish,
		 * so that they finish under the same load as the others. */
		if (now >= client->measure_until &&
		    (now >= client->measure_until + DRAIN_NS || !tcp_measured_open(client, slots)))
			break;
		count = epoll_wait(epoll, events, MAX_EVENTS, 100);
		if (count < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < count; i++) {
			struct tcp_slot *slot = events[i].data.ptr;
			struct samples *samples = &client->samples[slot->target];
			bool completed;

			if (!tcp_event(epoll, slot, events[i].events, samples, &completed))
				continue;
			now = now_ns();
			if (completed && measured(client, slot->started))
				record(samples, now - slot->started);
			tcp_finish(slot);
			tcp_start(epoll, slot, client);
		}
	}
	for (int i = 0; i < client->concurrency; i++)
		if (slots[i].fd >= 0)
			close(slots[i].fd);
	close(epoll);
	free(slots);
	return NULL;
}

/* UDP: one connected socket per datagram in flight. */
struct udp_slot {
	int fd;
	int64_t sent;
};

static void udp_send(struct udp_slot *slot, struct samples *samples)
{
	slot->sent = now_ns();
	if (send(slot->fd, request, sizeof(request) - 1, 0) < 0)
		samples->errors++;
}

static void *udp_client(void *data)
{
	struct client *client = data;
	struct epoll_event events[MAX_EVENTS];
	struct udp_slot *slots = calloc((size_t)client->concurrency, sizeof(*slots));
	int epoll = epoll_create1(EPOLL_CLOEXEC);
	int64_t last_scan = now_ns();

	if (!slots || epoll < 0)
		die("setup");
	enter_netns_of(client, 0);
	for (int i = 0; i < client->concurrency; i++) {
		struct epoll_event event = { .events = EPOLLIN, .data.ptr = &slots[i] };

		slots[i].fd = socket(targets[0].family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (slots[i].fd < 0)
			die("socket");
		if (connect(slots[i].fd, (const struct sockaddr *)&targets[0].address, targets[0].length) < 0)
			die("connect");
		if (epoll_ctl(epoll, EPOLL_CTL_ADD, slots[i].fd, &event) < 0)
			die("epoll_ctl");
		udp_send(&slots[i], &client->samples[0]);
	}
	for (;;) {
		int64_t now = now_ns();
		int count;

		if (now >= client->measure_until)
			break;
		if (now - last_scan > UDP_LOST_NS / 4) {
			for (int i = 0; i < client->concurrency; i++) {
				if (now - slots[i].sent > UDP_LOST_NS) {
					client->samples[0].lost++;
					udp_send(&slots[i], &client->samples[0]);
				}
			}
			last_scan = now;
		}
		count = epoll_wait(epoll, events, MAX_EVENTS, 20);
		if (count < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < count; i++) {
			struct udp_slot *slot = events[i].data.ptr;
			char buffer[512];
			bool answered = false;

			while (recv(slot->fd, buffer, sizeof(buffer), 0) > 0)
				answered = true;
			if (!answered) {
				/* An ICMP error (nothing listens) shows as ECONNREFUSED. */
				if (errno != EAGAIN)
					client->samples[0].errors++;
				continue;
			}
			now = now_ns();
			if (slot->sent >= client->measure_from && now <= client->measure_until)
				record(&client->samples[0], now - slot->sent);
			udp_send(slot, &client->samples[0]);
		}
	}
	for (int i = 0; i < client->concurrency; i++)
		close(slots[i].fd);
	close(epoll);
	free(slots);
	return NULL;
}

static int compare_values(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* With --pin, thread I runs on the I-th CPU (modulo those this process may
 * use): where the scheduler puts two clients and two servers on two CPUs
 * otherwise changes from run to run, and with it the throughput, by more
 * than the differences the bench looks for. */
static void start_thread(pthread_t *thread, void *(*function)(void *), void *argument, int index, bool pin)
{
	pthread_attr_t attributes;
	cpu_set_t allowed, one;
	int wanted, seen = 0;

	if (pthread_attr_init(&attributes))
		die("pthread_attr_init");
	if (pin && !sched_getaffinity(0, sizeof(allowed), &allowed)) {
		wanted = index % CPU_COUNT(&allowed);
		for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
			if (!CPU_ISSET(cpu, &allowed) || seen++ != wanted)
				continue;
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			if (pthread_attr_setaffinity_np(&attributes, sizeof(one), &one))
				die("pthread_attr_setaffinity_np");
			break;
		}
	}
	if (pthread_create(thread, &attributes, function, argument))
		die("pthread_create");
	pthread_attr_destroy(&attributes);
}

static void report(bool tcp, struct client *clients, int index, const struct options *options, double seconds)
{
	struct samples all = { 0 };
	double p50 = 0, p99 = 0;

	for (int i = 0; i < options->threads; i++) {
		struct samples *samples = &clients[i].samples[index];

		all.errors += samples->errors;
		all.lost += samples->lost;
		for (size_t j = 0; j < samples->count; j++)
			record(&all, (int64_t)samples->values[j] * 1000);
		free(samples->values);
	}
	if (all.count) {
		qsort(all.values, all.count, sizeof(*all.values), compare_values);
		p50 = all.values[all.count / 2];
		p99 = all.values[all.count * 99 / 100];
	}
	printf("%s %zu seconds %.3f per_second %.1f p50_us %.0f p99_us %.0f errors %llu lost %llu\n",
	       tcp ? "connections" : "datagrams", all.count, seconds, all.count / seconds,
	       p50, p99, (unsigned long long)all.errors, (unsigned long long)all.lost);
	free(all.values);
}

static int run_client(bool tcp, const struct options *options)
{
	struct client *clients = calloc((size_t)options->threads, sizeof(*clients));
	int64_t start = now_ns(), slice_ns = (int64_t)(options->slice * 1e9), measured, warmup;
	double counted = 1;

	if (!clients)
		die("calloc");
	/* Every target gets the same number of whole slices of the measured
	 * time, which starts at the beginning of one round of them. */
	measured = (int64_t)(options->seconds * 1e9) * target_count;
	warmup = (int64_t)(options->warmup * 1e9);
	if (target_count > 1) {
		int64_t round = slice_ns * target_count;

		measured = (measured + round - 1) / round * round;
		warmup = (warmup + round - 1) / round * round;
		counted = (options->slice - options->settle) / options->slice;
	}
	for (int i = 0; i < options->threads; i++) {
		clients[i].measure_from = start + warmup;
		clients[i].options = options;
		clients[i].concurrency = options->concurrency / options->threads +
					 (i < options->concurrency % options->threads);
		clients[i].origin = start;
		clients[i].slice_ns = slice_ns;
		clients[i].settle_ns = (int64_t)(options->settle * 1e9);
		clients[i].measure_until = clients[i].measure_from + measured;
		clients[i].netns_of = -1;
		start_thread(&clients[i].thread, tcp ? tcp_client : udp_client, &clients[i], i, options->pin);
	}
	for (int i = 0; i < options->threads; i++)
		pthread_join(clients[i].thread, NULL);
	for (int t = 0; t < target_count; t++)
		report(tcp, clients, t, options, (double)measured / 1e9 / target_count * counted);
	free(clients);
	return 0;
}

static int listener(bool tcp, int port)
{
	struct sockaddr_in6 address = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
					.sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | (tcp ? SOCK_NONBLOCK : 0), 0);
	int on = 1, off = 0;

	if (fd < 0)
		die("socket");
	/* One socket per worker, the kernel spreading flows over them; IPv4
	 * and IPv6 both. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0)
		die("setsockopt");
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0)
		die("bind");
	if (tcp && listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

static void *tcp_server(void *data)
{
	int fd = *(int *)data;
	int epoll = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event event = { .events = EPOLLIN, .data.fd = fd }, events[MAX_EVENTS];

	if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) < 0)
		die("epoll");
	for (;;) {
		int count = epoll_wait(epoll, events, MAX_EVENTS, -1);

		for (int i = 0; i < count; i++) {
			char buffer[512];
			ssize_t length;

			if (events[i].data.fd == fd) {
				int connection;

				while ((connection = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event added = { .events = EPOLLIN, .data.fd = connection };

					if (epoll_ctl(epoll, EPOLL_CTL_ADD, connection, &added) < 0)
						close(connection);
				}
				continue;
			}
			length = read(events[i].data.fd, buffer, sizeof(buffer));
			if (length < 0 && errno == EAGAIN)
				continue;
			/* The request fits one segment: answer it and close, so
			 * the TIME_WAIT is the server's and the client's ports
			 * come free at once. */
			if (length > 0 && write(events[i].data.fd, response, sizeof(response) - 1) < 0) {
				/* The client is gone: nothing to answer. */
			}
			close(events[i].data.fd);
		}
	}
	return NULL;
}

static void *udp_server(void *data)
{
	int fd = *(int *)data;

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t size = sizeof(peer);
		char buffer[2048];
		ssize_t length = recvfrom(fd, buffer, sizeof(buffer), 0, (struct sockaddr *)&peer, &size);

		if (length >= 0)
			sendto(fd, buffer, (size_t)length, 0, (struct sockaddr *)&peer, size);
	}
	return NULL;
}

static _Noreturn void run_server(bool tcp, const struct options *options)
{
	int *fds = calloc((size_t)options->workers, sizeof(*fds));

	if (!fds)
		die("calloc");
	for (int i = 0; i < options->workers; i++)
		fds[i] = listener(tcp, options->port);
	printf("listening\n");
	fflush(stdout);
	for (int i = 0; i < options->workers; i++) {
		pthread_t thread;

		start_thread(&thread, tcp ? tcp_server : udp_server, &fds[i], i, options->pin);
	}
	for (;;)
		pause();
}

static void usage(void)
{
	fprintf(stderr, "usage: packet_load serve tcp|udp PORT [--workers N] [--pin]\n"
			"       packet_load tcp|udp ADDRESS PORT [--seconds S] [--warmup S] "
			"[--concurrency C] [--threads T] [--pin]\n"
			"       packet_load tcp --in NETNS ADDRESS PORT [--in NETNS ADDRESS PORT]... "
			"[--slice S] [--settle S] [options]\n");
	exit(2);
}

static void add_target(const char *netns, const char *address, const char *port)
{
	struct target *target = &targets[target_count];
	char *end;
	long number = strtol(port, &end, 10);

	if (target_count == MAX_TARGETS || *end || number < 1 || number > 65535)
		usage();
	if (parse_target(target, address, (int)number) < 0) {
		fprintf(stderr, "packet_load: %s is not an IPv4 or IPv6 address\n", address);
		exit(2);
	}
	if (netns) {
		target->netns = open(netns, O_RDONLY | O_CLOEXEC);
		if (target->netns < 0)
			die(netns);
	}
	target_count++;
}

int main(int argc, char **argv)
{
	struct options options = { .seconds = 3, .warmup = 0.5, .concurrency = 64, .threads = 2, .workers = 2,
				   .slice = 0.2, .settle = 0.05 };
	bool serve, tcp;
	int next;

	if (argc < 3)
		usage();
	serve = !strcmp(argv[1], "serve");
	tcp = !strcmp(argv[serve ? 2 : 1], "tcp");
	if (!tcp && strcmp(argv[serve ? 2 : 1], "udp"))
		usage();
	if (serve) {
		if (argc < 4)
			usage();
		options.port = atoi(argv[3]);
		next = 4;
	} else if (!strcmp(argv[2], "--in")) {
		for (next = 2; next < argc && !strcmp(argv[next], "--in"); next += 4) {
			if (next + 3 >= argc)
				usage();
			add_target(argv[next + 1], argv[next + 2], argv[next + 3]);
		}
	} else {
		if (argc < 4)
			usage();
		add_target(NULL, argv[2], argv[3]);
		next = 4;
	}
	for (int i = next; i < argc; i++) {
		if (!strcmp(argv[i], "--pin")) {
			options.pin = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--seconds"))
			options.seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--warmup"))
			options.warmup = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--slice"))
			options.slice = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--settle"))
			options.settle = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--concurrency"))
			options.concurrency = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			options.threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--workers"))
			options.workers = atoi(argv[i + 1]);
		else
			usage();
		i++;
	}
	if ((serve && (options.port < 1 || options.port > 65535)) || options.seconds <= 0 || options.warmup < 0 ||
	    options.slice <= 0 || options.settle < 0 || options.settle >= options.slice || options.threads < 1 || options.workers < 1 ||
	    options.concurrency < options.threads || (!tcp && target_count > 1))
		usage();
	if (serve)
		run_server(tcp, &options);
	return run_client(tcp, &options);
}
