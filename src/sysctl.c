/* Reads and writes the port sysctls of the caller's network namespace. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sysctl.h"

static int sysctl_path(const char *root, const char *name, char *buffer, size_t size)
{
	int r = snprintf(buffer, size, "%s/%s", root ? root : "/proc/sys", name);

	return r < 0 || (size_t)r >= size ? -ENAMETOOLONG : 0;
}

static int sysctl_read(const char *root, const char *name, char *buffer, size_t size)
{
	char path[4096];
	ssize_t length;
	int fd, r;

	r = sysctl_path(root, name, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		length = read(fd, buffer, size - 1);
	while (length < 0 && errno == EINTR);
	r = length < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	buffer[length] = '\0';
	return 0;
}

/* Parses unsigned decimal numbers separated by blanks, as procfs prints
 * them, and insists on exactly count of them. */
static int parse_numbers(const char *text, unsigned int *values, size_t count)
{
	const char *cursor = text;

	for (size_t i = 0; i < count; i++) {
		unsigned long value = 0;
		size_t digits = 0;

		while (*cursor == ' ' || *cursor == '\t')
			cursor++;
		for (; *cursor >= '0' && *cursor <= '9'; cursor++, digits++) {
			value = value * 10 + (unsigned long)(*cursor - '0');
			if (value > 65535)
				return -EINVAL;
		}
		if (!digits)
			return -EINVAL;
		values[i] = (unsigned int)value;
	}
	while (*cursor == ' ' || *cursor == '\t' || *cursor == '\n')
		cursor++;
	return *cursor ? -EINVAL : 0;
}

int sysctl_read_unprivileged_port_start(const char *root, unsigned int *ret_value)
{
	char buffer[64];
	int r;

	r = sysctl_read(root, SYSCTL_UNPRIVILEGED_PORT_START, buffer, sizeof(buffer));
	if (r < 0)
		return r;
	return parse_numbers(buffer, ret_value, 1);
}

int sysctl_read_local_port_range(const char *root, unsigned int *ret_first, unsigned int *ret_last)
{
	unsigned int values[2];
	char buffer[64];
	int r;

	r = sysctl_read(root, SYSCTL_LOCAL_PORT_RANGE, buffer, sizeof(buffer));
	if (r < 0)
		return r;
	r = parse_numbers(buffer, values, 2);
	if (r < 0)
		return r;
	*ret_first = values[0];
	*ret_last = values[1];
	return 0;
}

int sysctl_write_unprivileged_port_start(const char *root, unsigned int value)
{
	char path[4096], text[16];
	ssize_t written;
	int fd, r, length;

	r = sysctl_path(root, SYSCTL_UNPRIVILEGED_PORT_START, path, sizeof(path));
	if (r < 0)
		return r;
	length = snprintf(text, sizeof(text), "%u\n", value);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
	if (fd < 0)
		return -errno;
	do
		written = write(fd, text, (size_t)length);
	while (written < 0 && errno == EINTR);
	r = written < 0 ? -errno : written != length ? -EIO : 0;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}
