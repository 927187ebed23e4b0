/* The managed maps' elements as the decoder collects them from a dump:
 * the base maps' into port-indexed tables, the scoped maps' as they come,
 * and at the end all of them into the state's mapping, sorted. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "kernel_internal.h"
#include "util.h"

void decoder_add_elements(struct element_table *table, struct nftnl_set_elems_iter *iterator)
{
	struct nftnl_set_elem *element;

	while ((element = nftnl_set_elems_iter_next(iterator))) {
		const void *key, *value;
		uint32_t key_length = 0, value_length = 0;
		uint16_t port, target;

		key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &key_length);
		value = nftnl_set_elem_get(element, NFTNL_SET_ELEM_DATA, &value_length);
		if (!key || !value || key_length != sizeof(port) || value_length != sizeof(target)) {
			table->altered = true;
			continue;
		}
		memcpy(&port, key, sizeof(port));
		memcpy(&target, value, sizeof(target));
		port = ntohs(port);
		if (!table->targets[port])
			table->count++;
		table->targets[port] = (uint32_t)ntohs(target) + 1;
	}
}

int decoder_add_scoped_elements(struct scoped_elements *scoped, unsigned int map,
			       struct nftnl_set_elems_iter *iterator)
{
	struct nftnl_set_elem *element;

	while ((element = nftnl_set_elems_iter_next(iterator))) {
		const void *key, *value;
		uint32_t key_length = 0, value_length = 0;
		struct redirect redirect = { .protocol = map_protocol(map) };
		uint16_t target;
		int r;

		key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &key_length);
		value = nftnl_set_elem_get(element, NFTNL_SET_ELEM_DATA, &value_length);
		if (!key || !value || value_length != sizeof(target) ||
		    layout_key_parse(map, key, key_length, &redirect) < 0) {
			scoped->altered = true;
			continue;
		}
		memcpy(&target, value, sizeof(target));
		redirect.target = ntohs(target);
		r = ARRAY_GROW_ONE(scoped->redirects, scoped->count, scoped->capacity, 64);
		if (r < 0)
			return r;
		scoped->redirects[scoped->count++] = redirect;
	}
	return 0;
}

/* Turns the port-indexed tables into the state's mapping, sorted by
 * construction, then adds the scoped maps' elements and sorts. */
int decoder_collect_elements(struct table_state *state, const struct element_table *tables,
			    const struct scoped_elements *scoped)
{
	size_t count = tables[PROTOCOL_TCP].count + tables[PROTOCOL_UDP].count;

	for (unsigned int i = PROTOCOL_COUNT; i < MAP_COUNT; i++)
		count += scoped[i].count;
	if (mapping_reserve(state->mapping, count) < 0)
		return -ENOMEM;
	for (int i = 0; i < PROTOCOL_COUNT; i++) {
		const struct element_table *table = &tables[i];

		if (!table->targets)
			continue;
		if (table->altered)
			object_mark_altered(&state->maps[i], "unexpected element found");
		for (uint32_t port = 0; port <= UINT16_MAX && table->count; port++) {
			const struct redirect redirect = {
				.protocol = (enum protocol)i,
				.port = (uint16_t)port,
				.target = (uint16_t)(table->targets[port] - 1),
			};

			if (table->targets[port] && mapping_add_redirect(state->mapping, &redirect) < 0)
				return -ENOMEM;
		}
	}
	for (unsigned int i = PROTOCOL_COUNT; i < MAP_COUNT; i++) {
		if (scoped[i].altered)
			object_mark_altered(&state->maps[i], "unexpected element found");
		for (size_t j = 0; j < scoped[i].count; j++) {
			if (mapping_add_redirect(state->mapping, &scoped[i].redirects[j]) < 0)
				return -ENOMEM;
		}
	}
	mapping_sort(state->mapping);
	return 0;
}
