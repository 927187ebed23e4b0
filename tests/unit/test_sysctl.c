/* The sysctl module against a fake /proc/sys: what it reads, what it
 * refuses, what it writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sysctl.h"

struct fake {
	char root[64];
};

static void write_file(const struct fake *fake, const char *name, const char *content)
{
	char path[256];
	FILE *stream;

	snprintf(path, sizeof(path), "%s/%s", fake->root, name);
	stream = fopen(path, "w");
	assert_non_null(stream);
	fputs(content, stream);
	assert_int_equal(fclose(stream), 0);
}

static char *read_file(const struct fake *fake, const char *name)
{
	static char content[64];
	char path[256];
	FILE *stream;
	size_t length;

	snprintf(path, sizeof(path), "%s/%s", fake->root, name);
	stream = fopen(path, "r");
	assert_non_null(stream);
	length = fread(content, 1, sizeof(content) - 1, stream);
	content[length] = '\0';
	fclose(stream);
	return content;
}

static int setup(void **state)
{
	struct fake *fake = calloc(1, sizeof(*fake));
	char directory[256];

	assert_non_null(fake);
	snprintf(fake->root, sizeof(fake->root), "/tmp/portredir-sysctl.XXXXXX");
	assert_non_null(mkdtemp(fake->root));
	snprintf(directory, sizeof(directory), "%s/net", fake->root);
	assert_int_equal(mkdir(directory, 0755), 0);
	snprintf(directory, sizeof(directory), "%s/net/ipv4", fake->root);
	assert_int_equal(mkdir(directory, 0755), 0);
	write_file(fake, SYSCTL_UNPRIVILEGED_PORT_START, "1024\n");
	write_file(fake, SYSCTL_LOCAL_PORT_RANGE, "32768\t60999\n");
	*state = fake;
	return 0;
}

static int teardown(void **state)
{
	struct fake *fake = *state;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fake->root, SYSCTL_UNPRIVILEGED_PORT_START);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", fake->root, SYSCTL_LOCAL_PORT_RANGE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/net/ipv4", fake->root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/net", fake->root);
	rmdir(path);
	rmdir(fake->root);
	free(fake);
	return 0;
}

static void unprivileged_port_start_is_read_as_procfs_prints_it(void **state)
{
	struct fake *fake = *state;
	unsigned int value = 0;

	assert_int_equal(sysctl_read_unprivileged_port_start(fake->root, &value), 0);
	assert_int_equal(value, 1024);
}

static void local_port_range_is_read_as_two_numbers_separated_by_a_tab(void **state)
{
	struct fake *fake = *state;
	unsigned int first = 0, last = 0;

	assert_int_equal(sysctl_read_local_port_range(fake->root, &first, &last), 0);
	assert_int_equal(first, 32768);
	assert_int_equal(last, 60999);
}

static void zero_is_a_valid_unprivileged_port_start(void **state)
{
	struct fake *fake = *state;
	unsigned int value = 1;

	write_file(fake, SYSCTL_UNPRIVILEGED_PORT_START, "0\n");
	assert_int_equal(sysctl_read_unprivileged_port_start(fake->root, &value), 0);
	assert_int_equal(value, 0);
}

static void garbage_in_the_sysctl_is_einval(void **state)
{
	struct fake *fake = *state;
	unsigned int value;

	write_file(fake, SYSCTL_UNPRIVILEGED_PORT_START, "abc\n");
	assert_int_equal(sysctl_read_unprivileged_port_start(fake->root, &value), -EINVAL);
	write_file(fake, SYSCTL_UNPRIVILEGED_PORT_START, "1024 5\n");
	assert_int_equal(sysctl_read_unprivileged_port_start(fake->root, &value), -EINVAL);
	write_file(fake, SYSCTL_UNPRIVILEGED_PORT_START, "\n");
	assert_int_equal(sysctl_read_unprivileged_port_start(fake->root, &value), -EINVAL);
	write_file(fake, SYSCTL_UNPRIVILEGED_PORT_START, "70000\n");
	assert_int_equal(sysctl_read_unprivileged_port_start(fake->root, &value), -EINVAL);
}

static void a_range_with_one_number_is_einval(void **state)
{
	struct fake *fake = *state;
	unsigned int first, last;

	write_file(fake, SYSCTL_LOCAL_PORT_RANGE, "32768\n");
	assert_int_equal(sysctl_read_local_port_range(fake->root, &first, &last), -EINVAL);
}

static void a_missing_sysctl_is_enoent(void **state)
{
	struct fake *fake = *state;
	char path[256];
	unsigned int value;

	snprintf(path, sizeof(path), "%s/%s", fake->root, SYSCTL_UNPRIVILEGED_PORT_START);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sysctl_read_unprivileged_port_start(fake->root, &value), -ENOENT);
	assert_int_equal(sysctl_write_unprivileged_port_start(fake->root, 80), -ENOENT);
}

static void a_write_replaces_the_value_with_a_newline_terminated_number(void **state)
{
	struct fake *fake = *state;
	unsigned int value = 0;

	assert_int_equal(sysctl_write_unprivileged_port_start(fake->root, 80), 0);
	assert_string_equal(read_file(fake, SYSCTL_UNPRIVILEGED_PORT_START), "80\n");
	assert_int_equal(sysctl_read_unprivileged_port_start(fake->root, &value), 0);
	assert_int_equal(value, 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unprivileged_port_start_is_read_as_procfs_prints_it, setup, teardown),
		cmocka_unit_test_setup_teardown(local_port_range_is_read_as_two_numbers_separated_by_a_tab, setup, teardown),
		cmocka_unit_test_setup_teardown(zero_is_a_valid_unprivileged_port_start, setup, teardown),
		cmocka_unit_test_setup_teardown(garbage_in_the_sysctl_is_einval, setup, teardown),
		cmocka_unit_test_setup_teardown(a_range_with_one_number_is_einval, setup, teardown),
		cmocka_unit_test_setup_teardown(a_missing_sysctl_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(a_write_replaces_the_value_with_a_newline_terminated_number, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
