/* The host model's constructors, its one destructor, and how its
 * addresses are written. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "util.h"

struct host *host_new(void)
{
	return calloc(1, sizeof(struct host));
}

void host_free(struct host *host)
{
	if (!host)
		return;
	for (size_t i = 0; i < host->listener_count; i++) {
		free(host->listeners[i].user);
		free(host->listeners[i].cgroup);
	}
	free(host->listeners);
	free(host->interfaces);
	free(host->addresses);
	free(host);
}

int host_add_listener(struct host *host, const struct listener *listener)
{
	if (ARRAY_GROW_ONE(host->listeners, host->listener_count, host->listener_capacity, 16) < 0)
		return -ENOMEM;
	host->listeners[host->listener_count++] = *listener;
	return 0;
}

struct interface *host_interface(struct host *host, uint32_t index)
{
	struct interface *interface;

	for (size_t i = 0; i < host->interface_count; i++) {
		if (host->interfaces[i].index == index)
			return &host->interfaces[i];
	}
	if (ARRAY_GROW_ONE(host->interfaces, host->interface_count, host->interface_capacity, 8) < 0)
		return NULL;
	interface = &host->interfaces[host->interface_count++];
	*interface = (struct interface){ .index = index };
	return interface;
}

const struct interface *host_find_interface(const struct host *host, uint32_t index)
{
	for (size_t i = 0; i < host->interface_count; i++) {
		if (host->interfaces[i].index == index)
			return &host->interfaces[i];
	}
	return NULL;
}

const struct interface *host_find_interface_named(const struct host *host, const char *name)
{
	for (size_t i = 0; i < host->interface_count; i++) {
		if (!strncmp(host->interfaces[i].name, name, sizeof(host->interfaces[i].name)))
			return &host->interfaces[i];
	}
	return NULL;
}

int host_add_address(struct host *host, const struct host_address *address)
{
	if (ARRAY_GROW_ONE(host->addresses, host->address_count, host->address_capacity, 8) < 0)
		return -ENOMEM;
	host->addresses[host->address_count++] = *address;
	return 0;
}

const struct host_address *host_find_address(const struct host *host, int family, const uint8_t *address)
{
	size_t length = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < host->address_count; i++) {
		if (host->addresses[i].family == family && !memcmp(host->addresses[i].address, address, length))
			return &host->addresses[i];
	}
	return NULL;
}

const struct interface *host_loopback(const struct host *host)
{
	for (size_t i = 0; i < host->interface_count; i++) {
		if (host->interfaces[i].loopback)
			return &host->interfaces[i];
	}
	return NULL;
}

void host_address_text(int family, const uint8_t *address, char *buffer, size_t size)
{
	if (!inet_ntop(family, address, buffer, (socklen_t)size))
		snprintf(buffer, size, "?");
}

void host_endpoint_text(int family, const uint8_t *address, uint16_t port, char *buffer, size_t size)
{
	char text[INET6_ADDRSTRLEN];

	host_address_text(family, address, text, sizeof(text));
	if (family == AF_INET6)
		snprintf(buffer, size, "[%s]:%u", text, port);
	else
		snprintf(buffer, size, "%s:%u", text, port);
}

bool host_address_is_any(int family, const uint8_t *address)
{
	static const uint8_t zero[16];

	return !memcmp(address, zero, family == AF_INET ? 4 : 16);
}
