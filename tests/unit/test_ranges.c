/* Port ranges, service names and scopes in the mapping language: what
 * they expand to, how the normalized form joins them back, and the exact
 * text of every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"
#include "config_fixture.h"
#include "output.h"

static void validate(struct fixture *fixture, unsigned int unprivileged_port_start)
{
	const struct config_kernel kernel = { .unprivileged_port_start = unprivileged_port_start, .local_port_first = 32768 };

	assert_int_equal(config_validate(fixture->mapping, &kernel, &fixture->diagnostics), 0);
}

/* What check prints. */
static const char *normalized(struct fixture *fixture)
{
	char *text = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&text, &size);

	assert_non_null(stream);
	output_mapping_to(stream, fixture->mapping);
	assert_int_equal(fclose(stream), 0);
	return keep(fixture, text);
}

static void assert_error(const char *text, const char *expected)
{
	void *state = NULL;
	struct fixture *fixture;

	assert_int_equal(setup(&state), 0);
	fixture = state;
	parse(fixture, text);
	assert_string_equal(diagnostics_text(fixture), expected);
	assert_int_equal(fixture->mapping->redirect_count, 0);
	teardown(&state);
}

static void assert_redirect(const struct redirect *redirect, enum protocol protocol, unsigned int port,
			    unsigned int target)
{
	assert_int_equal(redirect->protocol, protocol);
	assert_int_equal(redirect->port, port);
	assert_int_equal(redirect->target, target);
}

static void range_maps_pairwise_with_the_range_token_as_location(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 8000-8002 to 9000-9002\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->mapping->redirect_count, 3);
	for (unsigned int i = 0; i < 3; i++) {
		const struct redirect *redirect = &fixture->mapping->redirects[i];

		assert_redirect(redirect, PROTOCOL_TCP, 8000 + i, 9000 + i);
		assert_int_equal(redirect->port_column, 14);
		assert_int_equal(redirect->target_column, 27);
	}
	assert_string_equal(normalized(fixture), "redirect tcp 8000-8002 to 9000-9002\n");
}

static void range_to_one_target_sends_every_port_there(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp,udp 100-102 to 2000\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->mapping->redirect_count, 6);
	assert_redirect(&fixture->mapping->redirects[2], PROTOCOL_TCP, 102, 2000);
	assert_redirect(&fixture->mapping->redirects[3], PROTOCOL_UDP, 100, 2000);
	assert_string_equal(normalized(fixture), "redirect tcp 100-102 to 2000\nredirect udp 100-102 to 2000\n");
}

static void every_privileged_port_normalizes_to_one_line(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 1-1023 to 10001-11023\n");
	assert_int_equal(fixture->mapping->redirect_count, 1023);
	assert_string_equal(normalized(fixture), "redirect tcp 1-1023 to 10001-11023\n");
}

static void single_lines_in_a_run_are_joined_and_a_gap_or_owner_ends_it(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 81 to 8081\n"
		       "redirect tcp 80 to 8080\n"
		       "redirect tcp 82 to 8082 for web.service\n"
		       "redirect tcp 83 to 8083 for web.service\n"
		       "redirect tcp 85 to 9000\n"
		       "redirect tcp 86 to 9000\n"
		       "redirect tcp 87 to 9001\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_string_equal(normalized(fixture), "redirect tcp 80-81 to 8080-8081\n"
						 "redirect tcp 82-83 to 8082-8083 for web.service\n"
						 "redirect tcp 85-86 to 9000\n"
						 "redirect tcp 87 to 9001\n");
}

static void the_normalized_form_of_ranges_parses_back_to_itself(void **state)
{
	struct fixture *fixture = *state;
	void *again_state = NULL;
	struct fixture *again;
	char *first;

	parse(fixture, "redirect tcp 65530-65535 to 2000-2005\nredirect udp 1-3 to 5000\n");
	first = strdup(normalized(fixture));
	assert_non_null(first);
	assert_int_equal(setup(&again_state), 0);
	again = again_state;
	parse(again, first);
	assert_string_equal(diagnostics_text(again), "");
	assert_string_equal(normalized(again), first);
	teardown(&again_state);
	free(first);
}

static void range_errors_say_what_is_wrong(void **state)
{
	(void)state;
	assert_error("redirect tcp 8000- to 9000\n",
		     "test.conf:1:14: error: incomplete port range '8000-'; write FIRST-LAST, as 8000-8099");
	assert_error("redirect tcp 80 to 9000-\n",
		     "test.conf:1:20: error: incomplete target port range '9000-'; write FIRST-LAST, as 8000-8099");
	assert_error("redirect tcp 8099-8000 to 9000\n",
		     "test.conf:1:14: error: port range '8099-8000' runs backwards; write 8000-8099");
	assert_error("redirect tcp 8000-8x to 9000\n",
		     "test.conf:1:20: error: invalid port '8x': unexpected 'x'; expected a number from 1 to 65535");
	assert_error("redirect tcp 0-10 to 9000\n",
		     "test.conf:1:14: error: invalid port '0': out of range; expected a number from 1 to 65535");
	assert_error("redirect tcp 1-65536 to 9000\n",
		     "test.conf:1:16: error: invalid port '65536': out of range; expected a number from 1 to 65535");
	assert_error("redirect tcp 80--90 to 9000\n",
		     "test.conf:1:17: error: invalid port '-90': signs are not allowed; expected a number from 1 to 65535");
	assert_error("redirect tcp 8000-8099 to 9000-9009\n",
		     "test.conf:1:27: error: target range '9000-9009' has 10 ports but port range '8000-8099' has 100; give ranges of the same length, or one target port");
	assert_error("redirect tcp 80 to 8080-8081\n",
		     "test.conf:1:20: error: target range '8080-8081' for the single port 80; give a port range of the same length, or one target port");
	assert_error("redirect tcp 8000-8099 to 8050\n",
		     "test.conf:1:27: error: target port 8050 is inside the port range 8000-8099, so port 8050 would redirect to itself; split the range around it");
	assert_error("redirect tcp 8000-8099 to 8000-8099\n",
		     "test.conf:1:27: error: target range 8000-8099 is the same as the port range; a redirect to itself does nothing, remove the line");
}

static void overlapping_ranges_are_one_error_naming_both_places(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 8000-8099 to 9000-9099\nredirect tcp 8050-8199 to 20000\nredirect tcp 8100 to 30000\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:1: error: redirect for tcp ports 8050-8099 overlaps the one defined at test.conf:1:1; each port may be redirected once in each scope\n"
			    "test.conf:3:1: error: duplicate redirect for tcp port 8100; first defined at test.conf:2:1");
	assert_int_equal(fixture->diagnostics.error_count, 2);
}

static void a_range_below_the_start_is_one_error_and_one_warning(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 1020-1030 to 1000-1010\n");
	validate(fixture, 1024);
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:14: warning: port 1024 is at or above 1024, the current net.ipv4.ip_unprivileged_port_start, so any service can bind it directly; this redirect is not needed\n"
			    "test.conf:1:27: error: target port 1000 is below 1024, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least 1024 or declare a lower unprivileged_port_start");
}

static void service_names_are_the_ports_of_their_protocol(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp,udp https to 8443\nredirect udp domain to 5353\nredirect tcp http to http-alt\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_string_equal(normalized(fixture), "redirect tcp 80 to 8080\n"
						 "redirect tcp 443 to 8443\n"
						 "redirect udp 53 to 5353\n"
						 "redirect udp 443 to 8443\n");
}

static void service_name_errors_say_what_is_wrong(void **state)
{
	(void)state;
	assert_error("redirect tcp nosuchservice to 8080\n",
		     "test.conf:1:14: error: unknown service name 'nosuchservice' for tcp; write the port as a number, or use a name from /etc/services");
	assert_error("redirect tcp 80 to nosuchservice\n",
		     "test.conf:1:20: error: unknown service name 'nosuchservice' for tcp; write the target port as a number, or use a name from /etc/services");
	assert_error("redirect udp domian to 5353\n",
		     "test.conf:1:14: error: unknown service name 'domian' for udp; did you mean 'domain'?");
	assert_error("redirect tcp,udp http to 8080\n",
		     "test.conf:1:18: error: service name 'http' is known for tcp (port 80) but not for udp; write the number 80, or redirect tcp alone");
	assert_error("redirect tcp http-8080 to 9000\n",
		     "test.conf:1:14: error: unknown service name 'http-8080' for tcp; write the port as a number, or use a name from /etc/services");
}
static void scopes_parse_in_any_order_and_normalize(void **state)
{
	struct fixture *fixture = *state;
	const struct redirect *redirect;

	parse(fixture, "redirect tcp 80 to 8081 ipv4 on 198.18.0.1 for web.service\n"
		       "redirect tcp 80 to 8082 for web.service iif eth1 ipv6\n"
		       "redirect tcp 80 to 8083 on 2001:DB8:0:0::7 for web.service\n"
		       "redirect tcp 80 to 8084 ipv6 for web.service\n"
		       "redirect tcp 80 to 8085 iif eth1 for web.service\n"
		       "redirect tcp 80 to 8080 for web.service\n");
	assert_string_equal(diagnostics_text(fixture), "");
	assert_int_equal(fixture->mapping->redirect_count, 6);
	redirect = &fixture->mapping->redirects[5];
	assert_int_equal(redirect->scope.kind, SCOPE_ON);
	assert_int_equal(redirect->scope.family, 6);
	assert_int_equal(redirect->scope_column, 25);
	assert_string_equal(fixture->mapping->redirects[3].scope.iif, "eth1");
	assert_string_equal(normalized(fixture), "redirect tcp 80 to 8080 for web.service\n"
						 "redirect tcp 80 to 8084 ipv6 for web.service\n"
						 "redirect tcp 80 to 8085 iif eth1 for web.service\n"
						 "redirect tcp 80 to 8082 iif eth1 ipv6 for web.service\n"
						 "redirect tcp 80 to 8081 on 198.18.0.1 for web.service\n"
						 "redirect tcp 80 to 8083 on 2001:db8::7 for web.service\n");
}

static void the_same_port_and_scope_twice_is_an_error_naming_both(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8081 iif eth1\nredirect tcp 80 to 8082 iif eth1\n"
		       "redirect tcp 80 to 8083 iif eth2\nredirect tcp 80-81 to 9000 ipv6\nredirect tcp 81-82 to 9001 ipv6\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:2:1: error: duplicate redirect for tcp port 80 iif eth1; first defined at test.conf:1:1\n"
			    "test.conf:5:1: error: duplicate redirect for tcp port 81 ipv6; first defined at test.conf:4:1");
}

static void scope_errors_say_what_is_wrong(void **state)
{
	(void)state;
	assert_error("redirect tcp 80 to 8080 on 198.18.0.1 on 198.18.0.2\n",
		     "test.conf:1:39: error: duplicate 'on' clause; a redirect has one, first given at column 25");
	assert_error("redirect tcp 80 to 8080 iif eth0 on 198.18.0.1\n",
		     "test.conf:1:34: error: 'on' after 'iif' at column 25; a redirect takes 'on' or 'iif', not both: write one line for each");
	assert_error("redirect tcp 80 to 8080 ipv6 on 198.18.0.1\n",
		     "test.conf:1:25: error: 'ipv6' does not match the IPv4 address after 'on' at column 30; an address implies its family, remove 'ipv6'");
	assert_error("redirect tcp 80 to 8080 on 2001:db8::1 ipv4\n",
		     "test.conf:1:40: error: 'ipv4' does not match the IPv6 address after 'on' at column 25; an address implies its family, remove 'ipv4'");
	assert_error("redirect tcp 80 to 8080 ipv6 ipv6\n",
		     "test.conf:1:30: error: 'ipv6' after 'ipv6' at column 25; a redirect has one family, or none for both");
	assert_error("redirect tcp 80 to 8080 on ::\n",
		     "test.conf:1:28: error: address :: after 'on' is no address of this host; give one, or leave 'on' out for all of them");
	assert_error("redirect tcp 80 to 8080 on 2001:db8::/32\n",
		     "test.conf:1:28: error: '2001:db8::/32' after 'on' is a prefix; 'on' takes one address of this host");
	assert_error("redirect tcp 80 to 8080 on 198.18.0.256\n",
		     "test.conf:1:28: error: invalid address '198.18.0.256' after 'on'; expected an IPv4 or IPv6 address, as 198.51.100.7 or 2001:db8::7");
	assert_error("redirect tcp 80 to 8080 iif .\n",
		     "test.conf:1:29: error: '.' is not an interface name; the kernel refuses '.' and '..'");
	assert_error("redirect tcp 80 to 8080 iif eth0 iif eth1\n",
		     "test.conf:1:34: error: duplicate 'iif' clause; a redirect has one, first given at column 25");
	assert_error("redirect tcp 80 to 8080 iff eth0\n",
		     "test.conf:1:25: error: unknown word 'iff' after the target port; did you mean 'iif'?");
	assert_error("redirect tcp 80 to 8080 no 198.18.0.1\n",
		     "test.conf:1:25: error: unknown word 'no' after the target port; did you mean 'on'?");
	assert_error("redirect tcp 80 to 8080 iif eth0 extra\n",
		     "test.conf:1:34: error: unexpected 'extra' after the interface; a comment must start with '#'");
	assert_error("redirect tcp 80 to 8080 ipv4 extra\n",
		     "test.conf:1:30: error: unexpected 'extra' after the family; a comment must start with '#'");
}

static void the_redirects_of_a_port_share_their_owner(void **state)
{
	struct fixture *fixture = *state;

	parse(fixture, "redirect tcp 80 to 8081 on 198.18.0.1 for a.service\nredirect tcp 80 to 8082 ipv6 for b.service\n");
	assert_string_equal(diagnostics_text(fixture),
			    "test.conf:1:1: error: redirects of tcp port 80 differ in owner (a.service here, b.service at test.conf:2:1); give every scope of a port the same owner, as the owner gate checks ports, not scopes");
}

static void interface_halves_print_as_one_line(void **state)
{
	struct fixture *fixture = *state;
	struct mapping *form = NULL;

	parse(fixture, "redirect tcp 80 to 8081 iif eth1\nredirect tcp 80 to 8082 iif eth2\nredirect tcp 80 to 8083 iif eth2 ipv6\n");
	assert_int_equal(mapping_kernel_form(fixture->mapping, &form), 0);
	assert_non_null(form);
	/* eth1 twice, eth2 for IPv4 only: its ipv6 redirect is its own. */
	assert_int_equal(form->redirect_count, 4);
	mapping_free(fixture->mapping);
	fixture->mapping = form;
	assert_string_equal(normalized(fixture), "redirect tcp 80 to 8081 iif eth1\n"
						 "redirect tcp 80 to 8082 iif eth2 ipv4\n"
						 "redirect tcp 80 to 8083 iif eth2 ipv6\n");
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(range_maps_pairwise_with_the_range_token_as_location),
		TEST(range_to_one_target_sends_every_port_there),
		TEST(every_privileged_port_normalizes_to_one_line),
		TEST(single_lines_in_a_run_are_joined_and_a_gap_or_owner_ends_it),
		TEST(the_normalized_form_of_ranges_parses_back_to_itself),
		TEST(range_errors_say_what_is_wrong),
		TEST(overlapping_ranges_are_one_error_naming_both_places),
		TEST(a_range_below_the_start_is_one_error_and_one_warning),
		TEST(service_names_are_the_ports_of_their_protocol),
		TEST(service_name_errors_say_what_is_wrong),
		TEST(scopes_parse_in_any_order_and_normalize),
		TEST(the_same_port_and_scope_twice_is_an_error_naming_both),
		TEST(scope_errors_say_what_is_wrong),
		TEST(the_redirects_of_a_port_share_their_owner),
		TEST(interface_halves_print_as_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
