/* Service names for ports ("http", "domain"): looked up in the system's
 * services database (/etc/services) for one protocol, with a suggestion
 * for a name it does not know. */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include "config_internal.h"
#include "util.h"

/* No service name in /etc/services comes near this; a longer word is no
 * name, and is not looked up. */
#define SERVICE_NAME_MAX 64

int config_service_port(const char *name, size_t length, enum protocol protocol, unsigned int *ret_port)
{
	char copy[SERVICE_NAME_MAX + 1], buffer[1024];
	struct servent entry, *found = NULL;

	if (length == 0 || length > SERVICE_NAME_MAX || memchr(name, '\0', length))
		return -ENOENT;
	memcpy(copy, name, length);
	copy[length] = '\0';
	if (getservbyname_r(copy, protocol_name(protocol), &entry, buffer, sizeof(buffer), &found) != 0 || !found)
		return -ENOENT;
	*ret_port = ntohs((uint16_t)found->s_port);
	return *ret_port ? 0 : -ENOENT;
}

static int add_name(char ***names, size_t *count, size_t *capacity, const char *name)
{
	int r = ARRAY_GROW_ONE(*names, *count, *capacity, 64);

	if (r < 0)
		return r;
	(*names)[*count] = strdup(name);
	if (!(*names)[*count])
		return -ENOMEM;
	(*count)++;
	return 0;
}

/* Only on the error path: reads the whole database once for the names of
 * protocol and their aliases, and asks suggest_word() among them. */
int config_service_suggest(const char *word, size_t length, enum protocol protocol, char *buffer, size_t size)
{
	const char *wanted = protocol_name(protocol), *suggestion;
	size_t count = 0, capacity = 0;
	struct servent *entry;
	char **names = NULL;
	int r = 0;

	buffer[0] = '\0';
	setservent(0);
	while (r == 0 && (entry = getservent())) {
		if (strcmp(entry->s_proto, wanted))
			continue;
		r = add_name(&names, &count, &capacity, entry->s_name);
		for (char **alias = entry->s_aliases; r == 0 && alias && *alias; alias++)
			r = add_name(&names, &count, &capacity, *alias);
	}
	endservent();
	if (r == 0) {
		suggestion = suggest_word(word, length, (const char *const *)names, count);
		if (suggestion && strlen(suggestion) < size)
			strcpy(buffer, suggestion);
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return r;
}
