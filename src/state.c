/* Names of the managed objects, and the kernel state's destructor. */
#include <stdio.h>
#include <stdlib.h>
#include "state.h"

const char *chain_name(enum chain chain)
{
	return chain == CHAIN_PREROUTING ? "prerouting" : "output";
}

const char *map_name(unsigned int map)
{
	static const char *const names[MAP_COUNT] = {
		"tcp_redirects", "udp_redirects",
		"tcp_family_redirects", "udp_family_redirects",
		"tcp_iif_redirects", "udp_iif_redirects",
		"tcp_on4_redirects", "udp_on4_redirects",
		"tcp_on6_redirects", "udp_on6_redirects",
	};

	return map < MAP_COUNT ? names[map] : "?";
}

unsigned int redirect_map(const struct redirect *redirect)
{
	static const enum map_kind kinds[] = {
		[SCOPE_NONE] = MAP_PLAIN,
		[SCOPE_FAMILY] = MAP_FAMILY,
		[SCOPE_IIF] = MAP_IIF,
		[SCOPE_ON] = MAP_ON4,
	};
	enum map_kind kind = redirect->scope.kind <= SCOPE_ON ? kinds[redirect->scope.kind] : MAP_PLAIN;

	if (kind == MAP_ON4 && redirect->scope.family == 6)
		kind = MAP_ON6;
	return map_of(redirect->protocol, kind);
}

size_t chain_rule_maps(enum chain chain, const bool *in_use, unsigned int *maps)
{
	static const enum map_kind order[] = { MAP_ON4, MAP_ON6, MAP_IIF, MAP_FAMILY, MAP_PLAIN };
	size_t count = 0;

	for (int protocol = 0; protocol < PROTOCOL_COUNT; protocol++) {
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			unsigned int map = map_of((enum protocol)protocol, order[i]);

			if (order[i] == MAP_IIF && chain != CHAIN_PREROUTING)
				continue;
			if (order[i] == MAP_PLAIN || in_use[map])
				maps[count++] = map;
		}
	}
	return count;
}

const char *gate_chain_name(enum gate_chain chain)
{
	return chain == GATE_CHAIN_INPUT ? INPUT_CHAIN_NAME : OWNER_CHECK_CHAIN_NAME;
}

int owned_port_compare(const struct owned_port *a, const struct owned_port *b)
{
	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	return a->port < b->port ? -1 : a->port > b->port;
}

int owner_element_compare(const struct owner_element *a, const struct owner_element *b)
{
	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

const char *owned_set_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_owned" : "udp_owned";
}

const char *owner_set_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_owners" : "udp_owners";
}

const char *count_set_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_counts" : "udp_counts";
}

struct table_state *table_state_new(void)
{
	struct table_state *state = calloc(1, sizeof(*state));

	if (!state)
		return NULL;
	state->mapping = mapping_new();
	if (!state->mapping) {
		free(state);
		return NULL;
	}
	return state;
}

void table_state_free(struct table_state *state)
{
	if (!state)
		return;
	mapping_free(state->mapping);
	free(state->owned);
	free(state->owner_elements);
	free(state);
}

void object_mark_altered(struct object_state *object, const char *reason)
{
	if (object->status == OBJECT_ALTERED)
		return;
	object->status = OBJECT_ALTERED;
	snprintf(object->reason, sizeof(object->reason), "%s", reason);
}

void object_mark_found(struct object_state *object)
{
	if (object->status == OBJECT_MISSING)
		object->status = OBJECT_OK;
}
