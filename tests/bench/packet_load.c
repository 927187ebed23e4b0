/* The packet-path bench's load generator and servers (tests/bench/packet.py
 * drives them): new TCP connections per second with their latency, and UDP
 * round trips per second, against a minimal server of each kind.
 *
 *   packet_load serve tcp PORT [--workers N]
 *   packet_load serve udp PORT [--workers N]
 *   packet_load tcp|udp ADDRESS PORT [--seconds S] [--warmup S] [--concurrency C] [--threads T]
 *
 * A TCP client connects, sends one small request, reads the response until
 * the server closes, and closes: one connection is one sample, timed from
 * socket() to the end of the response (so the handshake, where NAT acts, is
 * in it). A UDP client keeps one datagram in flight per socket and times its
 * echo. The server is as lean as it can be, so that the kernel's share of
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
};

static union {
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
} target;
static socklen_t target_length;
static int target_family;

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

static int parse_target(const char *address, int port)
{
	memset(&target, 0, sizeof(target));
	if (inet_pton(AF_INET, address, &target.v4.sin_addr) == 1) {
		target.v4.sin_family = AF_INET;
		target.v4.sin_port = htons((uint16_t)port);
		target_length = sizeof(target.v4);
		target_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, address, &target.v6.sin6_addr) == 1) {
		target.v6.sin6_family = AF_INET6;
		target.v6.sin6_port = htons((uint16_t)port);
		target_length = sizeof(target.v6);
		target_family = AF_INET6;
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
	int64_t measure_from;
	int64_t measure_until;
	struct samples samples;
};

/* TCP: one slot per connection in flight. */
struct tcp_slot {
	int fd;
	bool connected;
	int64_t started;
};

static void tcp_start(int epoll, struct tcp_slot *slot, struct samples *samples)
{
	struct epoll_event event = { .events = EPOLLOUT, .data.ptr = slot };

	for (;;) {
		slot->started = now_ns();
		slot->connected = false;
		slot->fd = socket(target_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (slot->fd < 0)
			die("socket");
		if (connect(slot->fd, (struct sockaddr *)&target, target_length) == 0 || errno == EINPROGRESS)
			break;
		/* Out of local ports or refused at once: counted, and again. */
		samples->errors++;
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

static void *tcp_client(void *data)
{
	struct client *client = data;
	struct epoll_event events[MAX_EVENTS];
	struct tcp_slot *slots = calloc((size_t)client->concurrency, sizeof(*slots));
	int epoll = epoll_create1(EPOLL_CLOEXEC);

	if (!slots || epoll < 0)
		die("setup");
	for (int i = 0; i < client->concurrency; i++)
		tcp_start(epoll, &slots[i], &client->samples);
	for (;;) {
		int64_t now = now_ns();
		int count;

		if (now >= client->measure_until)
			break;
		count = epoll_wait(epoll, events, MAX_EVENTS, 100);
		if (count < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < count; i++) {
			struct tcp_slot *slot = events[i].data.ptr;
			bool completed;

			if (!tcp_event(epoll, slot, events[i].events, &client->samples, &completed))
				continue;
			now = now_ns();
			if (completed && slot->started >= client->measure_from && now <= client->measure_until)
				record(&client->samples, now - slot->started);
			tcp_finish(slot);
			tcp_start(epoll, slot, &client->samples);
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
	for (int i = 0; i < client->concurrency; i++) {
		struct epoll_event event = { .events = EPOLLIN, .data.ptr = &slots[i] };

		slots[i].fd = socket(target_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (slots[i].fd < 0)
			die("socket");
		if (connect(slots[i].fd, (struct sockaddr *)&target, target_length) < 0)
			die("connect");
		if (epoll_ctl(epoll, EPOLL_CTL_ADD, slots[i].fd, &event) < 0)
			die("epoll_ctl");
		udp_send(&slots[i], &client->samples);
	}
	for (;;) {
		int64_t now = now_ns();
		int count;

		if (now >= client->measure_until)
			break;
		if (now - last_scan > UDP_LOST_NS / 4) {
			for (int i = 0; i < client->concurrency; i++) {
				if (now - slots[i].sent > UDP_LOST_NS) {
					client->samples.lost++;
					udp_send(&slots[i], &client->samples);
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
					client->samples.errors++;
				continue;
			}
			now = now_ns();
			if (slot->sent >= client->measure_from && now <= client->measure_until)
				record(&client->samples, now - slot->sent);
			udp_send(slot, &client->samples);
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

static int run_client(bool tcp, const struct options *options)
{
	struct client *clients = calloc((size_t)options->threads, sizeof(*clients));
	struct samples all = { 0 };
	int64_t start = now_ns();
	double p50 = 0, p99 = 0;

	if (!clients)
		die("calloc");
	for (int i = 0; i < options->threads; i++) {
		clients[i].options = options;
		clients[i].concurrency = options->concurrency / options->threads +
					 (i < options->concurrency % options->threads);
		clients[i].measure_from = start + (int64_t)(options->warmup * 1e9);
		clients[i].measure_until = clients[i].measure_from + (int64_t)(options->seconds * 1e9);
		if (pthread_create(&clients[i].thread, NULL, tcp ? tcp_client : udp_client, &clients[i]))
			die("pthread_create");
	}
	for (int i = 0; i < options->threads; i++) {
		struct samples *samples = &clients[i].samples;

		pthread_join(clients[i].thread, NULL);
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
	       tcp ? "connections" : "datagrams", all.count, options->seconds, all.count / options->seconds,
	       p50, p99, (unsigned long long)all.errors, (unsigned long long)all.lost);
	free(all.values);
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

		if (pthread_create(&thread, NULL, tcp ? tcp_server : udp_server, &fds[i]))
			die("pthread_create");
	}
	for (;;)
		pause();
}

static void usage(void)
{
	fprintf(stderr, "usage: packet_load serve tcp|udp PORT [--workers N]\n"
			"       packet_load tcp|udp ADDRESS PORT [--seconds S] [--warmup S] "
			"[--concurrency C] [--threads T]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct options options = { .seconds = 3, .warmup = 0.5, .concurrency = 64, .threads = 2, .workers = 2 };
	bool serve, tcp;
	int next;

	if (argc < 4)
		usage();
	serve = !strcmp(argv[1], "serve");
	if (serve) {
		tcp = !strcmp(argv[2], "tcp");
		if (!tcp && strcmp(argv[2], "udp"))
			usage();
		options.port = atoi(argv[3]);
		next = 4;
	} else {
		if (argc < 4)
			usage();
		tcp = !strcmp(argv[1], "tcp");
		if (!tcp && strcmp(argv[1], "udp"))
			usage();
		options.address = argv[2];
		options.port = atoi(argv[3]);
		next = 4;
	}
	for (int i = next; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--seconds"))
			options.seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--warmup"))
			options.warmup = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--concurrency"))
			options.concurrency = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			options.threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--workers"))
			options.workers = atoi(argv[i + 1]);
		else
			usage();
	}
	if (options.port < 1 || options.port > 65535 || options.seconds <= 0 || options.warmup < 0 ||
	    options.threads < 1 || options.workers < 1 || options.concurrency < options.threads)
		usage();
	if (serve)
		run_server(tcp, &options);
	if (parse_target(options.address, options.port) < 0) {
		fprintf(stderr, "packet_load: %s is not an IPv4 or IPv6 address\n", options.address);
		return 2;
	}
	return run_client(tcp, &options);
}
