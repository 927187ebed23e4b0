/* The passes after parsing: duplicates dropped and reported, then the
 * rules that depend on the kernel, each reported in file order. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

/* Diagnostics of the later passes are reported in file order, like those
 * of the parser, rather than in the (protocol, port) order the passes walk
 * the mapping in. A file ranks by its place in mapping->files; locations
 * point at those stored strings, so a binary search on the pointer finds
 * it even for a drop-in directory of thousands of files.
 *
 * Only the first PROBLEMS_KEPT of a kind, in file order, are kept (no more
 * are shown); the others are only counted. A mapping of every port has
 * some 130,000 "not needed" warnings, and keeping them all would cost more
 * memory than everything else portredir does with that mapping. */
#define PROBLEMS_KEPT 50
_Static_assert(PROBLEMS_KEPT >= DIAGNOSTICS_MAX_ERRORS && PROBLEMS_KEPT >= DIAGNOSTICS_MAX_WARNINGS,
	       "every problem that can be shown must be kept");

struct file_rank {
	const char *file;
	size_t rank;
};

struct problem {
	size_t file_rank;
	struct location location;
	size_t sequence;
	int kind;
	const struct redirect *redirect;
	/* For duplicates: the dropped redirect and where the kept one is,
	 * and the last port of a run of them between the same two lines. */
	struct redirect duplicate;
	struct location first;
	uint16_t last_port;
};

struct problems {
	/* The smallest in file order, sorted. */
	struct problem items[PROBLEMS_KEPT];
	size_t kept;
	size_t total;
	const struct file_rank *ranks;
	size_t rank_count;
};

static int file_rank_compare(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct file_rank *)a)->file;
	uintptr_t y = (uintptr_t)((const struct file_rank *)b)->file;

	return x < y ? -1 : x > y;
}

static int problem_compare(const struct problem *x, const struct problem *y)
{
	if (x->file_rank != y->file_rank)
		return x->file_rank < y->file_rank ? -1 : 1;
	if (x->location.line != y->location.line)
		return x->location.line < y->location.line ? -1 : 1;
	if (x->location.column != y->location.column)
		return x->location.column < y->location.column ? -1 : 1;
	return x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

/* The mapping's files, sorted by pointer for problems_file_rank(). */
static int file_ranks_new(const struct mapping *mapping, struct file_rank **ret_ranks)
{
	struct file_rank *ranks;

	*ret_ranks = NULL;
	if (!mapping->file_count)
		return 0;
	ranks = malloc(mapping->file_count * sizeof(*ranks));
	if (!ranks)
		return -ENOMEM;
	for (size_t i = 0; i < mapping->file_count; i++)
		ranks[i] = (struct file_rank){ .file = mapping->files[i], .rank = i };
	qsort(ranks, mapping->file_count, sizeof(*ranks), file_rank_compare);
	*ret_ranks = ranks;
	return 0;
}

static void problems_init(struct problems *problems, const struct file_rank *ranks, size_t rank_count)
{
	problems->kept = problems->total = 0;
	problems->ranks = ranks;
	problems->rank_count = rank_count;
}

/* Files not in the mapping's list (NULL for the kernel, a literal in a
 * test) rank last. */
static size_t problems_file_rank(const struct problems *problems, const char *file)
{
	const struct file_rank key = { .file = file };
	const struct file_rank *found;

	if (!file || !problems->rank_count)
		return SIZE_MAX;
	found = bsearch(&key, problems->ranks, problems->rank_count, sizeof(*problems->ranks), file_rank_compare);
	return found ? found->rank : SIZE_MAX;
}

/* Counts a problem and returns the slot to fill in, or NULL when it is
 * not among the first PROBLEMS_KEPT in file order. Passes walk sorted
 * mappings of files usually written in port order, so the common case is
 * an append. */
static struct problem *problems_add(struct problems *problems, const struct location *location)
{
	struct problem candidate = {
		.file_rank = problems_file_rank(problems, location->file),
		.location = *location,
		.sequence = problems->total++,
	};
	size_t position = problems->kept;

	while (position > 0 && problem_compare(&candidate, &problems->items[position - 1]) < 0)
		position--;
	if (position == PROBLEMS_KEPT)
		return NULL;
	if (problems->kept == PROBLEMS_KEPT)
		problems->kept--;
	memmove(&problems->items[position + 1], &problems->items[position],
		(problems->kept - position) * sizeof(problems->items[0]));
	problems->kept++;
	problems->items[position] = candidate;
	return &problems->items[position];
}

static const char *file_or_dash(const char *file)
{
	return file ? file : "-";
}

static bool location_equal(const struct location *a, const struct location *b)
{
	return a->file == b->file && a->line == b->line && a->column == b->column;
}

/* Whether redirect is the next port of the pending run of duplicates: two
 * overlapping ranges are one error, not one per port. */
static bool continues_duplicates(const struct problem *pending, const struct redirect *redirect,
				 const struct location *first)
{
	return pending->location.file && pending->duplicate.protocol == redirect->protocol &&
	       pending->last_port + 1 == redirect->port && !scope_compare(&pending->duplicate.scope, &redirect->scope) &&
	       location_equal(&pending->location, &redirect->location) &&
	       pending->duplicate.port_column == redirect->port_column && location_equal(&pending->first, first);
}

static void add_duplicate(struct problems *problems, const struct problem *pending)
{
	struct problem *problem;

	if (!pending->location.file && !pending->location.line)
		return;
	problem = problems_add(problems, &pending->location);
	if (problem) {
		problem->duplicate = pending->duplicate;
		problem->first = pending->first;
		problem->last_port = pending->last_port;
	}
}

/* The owner gate checks the original port, whatever the scope: all the
 * redirects of a port name the same owner, or none does. Reported once
 * per port, at the first that differs from the port's first. */
static int check_port_owners(const struct mapping *mapping, struct diagnostics *diagnostics)
{
	for (size_t i = 1, first = 0; i < mapping->redirect_count; i++) {
		const struct redirect *redirect = &mapping->redirects[i], *head;
		char mine[OWNER_TEXT_MAX + 1] = "none", theirs[OWNER_TEXT_MAX + 1] = "none";
		int r;

		if (redirect->protocol != mapping->redirects[first].protocol ||
		    redirect->port != mapping->redirects[first].port) {
			first = i;
			continue;
		}
		head = &mapping->redirects[first];
		if (owner_equal(redirect->owner, head->owner))
			continue;
		if (redirect->owner)
			owner_text(redirect->owner, mine, sizeof(mine));
		if (head->owner)
			owner_text(head->owner, theirs, sizeof(theirs));
		r = diagnostics_add(diagnostics, SEVERITY_ERROR, &redirect->location,
				    "redirects of %s port %u differ in owner (%s here, %s at %s:%u:%u); give every scope of a port the same owner, as the owner gate checks ports, not scopes",
				    protocol_name(redirect->protocol), redirect->port, mine, theirs,
				    file_or_dash(head->location.file), head->location.line, head->location.column);
		if (r < 0)
			return r;
		/* Once per port. */
		while (i + 1 < mapping->redirect_count && mapping->redirects[i + 1].protocol == redirect->protocol &&
		       mapping->redirects[i + 1].port == redirect->port)
			i++;
	}
	return 0;
}

int config_finish(struct mapping *mapping, struct diagnostics *diagnostics)
{
	struct problem pending = { .location = { 0 } };
	struct file_rank *ranks = NULL;
	struct problems problems;
	size_t kept = 0;
	int r;

	mapping_sort(mapping);
	r = file_ranks_new(mapping, &ranks);
	if (r < 0)
		goto out;
	problems_init(&problems, ranks, mapping->file_count);
	/* The sort is stable, so the first of equal keys is the one declared
	 * first; the others are dropped from the mapping once reported. */
	for (size_t i = 0; i < mapping->redirect_count; i++) {
		struct redirect *redirect = &mapping->redirects[i];

		if (kept && !redirect_compare(&mapping->redirects[kept - 1], redirect)) {
			const struct location *first = &mapping->redirects[kept - 1].location;

			if (continues_duplicates(&pending, redirect, first)) {
				pending.last_port = redirect->port;
				continue;
			}
			add_duplicate(&problems, &pending);
			pending = (struct problem){
				.location = redirect->location,
				.duplicate = *redirect,
				.first = *first,
				.last_port = redirect->port,
			};
			continue;
		}
		mapping->redirects[kept++] = *redirect;
	}
	add_duplicate(&problems, &pending);
	mapping->redirect_count = kept;
	for (size_t i = 0; i < problems.kept; i++) {
		const struct problem *problem = &problems.items[i];
		char scope[SCOPE_TEXT_MAX];

		scope_text(&problem->duplicate.scope, scope);
		if (problem->last_port != problem->duplicate.port)
			r = diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
					    "redirect for %s ports %u-%u%s overlaps the one defined at %s:%u:%u; each port may be redirected once in each scope",
					    protocol_name(problem->duplicate.protocol), problem->duplicate.port,
					    problem->last_port, scope, file_or_dash(problem->first.file), problem->first.line,
					    problem->first.column);
		else
			r = diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
					    "duplicate redirect for %s port %u%s; first defined at %s:%u:%u",
					    protocol_name(problem->duplicate.protocol), problem->duplicate.port, scope,
					    file_or_dash(problem->first.file), problem->first.line, problem->first.column);
		if (r < 0)
			goto out;
	}
	diagnostics_count_dropped(diagnostics, SEVERITY_ERROR, problems.total - problems.kept);
	r = check_port_owners(mapping, diagnostics);
out:
	free(ranks);
	return r;
}

enum validation_problem {
	START_ABOVE_LOCAL_RANGE,
	TARGET_PRIVILEGED,
	PORT_UNPRIVILEGED,
};

static int report_validation_problem(const struct problem *problem, const struct mapping *mapping,
				     const struct config_kernel *kernel, struct diagnostics *diagnostics)
{
	const struct location *declared = &mapping->unprivileged_port_start_location;
	unsigned int start = mapping->has_unprivileged_port_start ? mapping->unprivileged_port_start
								  : kernel->unprivileged_port_start;

	switch (problem->kind) {
	case START_ABOVE_LOCAL_RANGE:
		return diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
				       "unprivileged_port_start %u is above %u, the first port of net.ipv4.ip_local_port_range, and the kernel refuses that; use a value of at most %u",
				       start, kernel->local_port_first, kernel->local_port_first);
	case TARGET_PRIVILEGED:
		if (mapping->has_unprivileged_port_start)
			return diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
					       "target port %u is below unprivileged_port_start %u (declared at %s:%u:%u), so a non-root service cannot bind it; use a target of at least %u or lower unprivileged_port_start",
					       problem->redirect->target, start, file_or_dash(declared->file),
					       declared->line, declared->column, start);
		return diagnostics_add(diagnostics, SEVERITY_ERROR, &problem->location,
				       "target port %u is below %u, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least %u or declare a lower unprivileged_port_start",
				       problem->redirect->target, start, start);
	default:
		if (mapping->has_unprivileged_port_start)
			return diagnostics_add(diagnostics, SEVERITY_WARNING, &problem->location,
					       "port %u is at or above unprivileged_port_start %u (declared at %s:%u:%u), so any service can bind it directly; this redirect is not needed",
					       problem->redirect->port, start, file_or_dash(declared->file),
					       declared->line, declared->column);
		return diagnostics_add(diagnostics, SEVERITY_WARNING, &problem->location,
				       "port %u is at or above %u, the current net.ipv4.ip_unprivileged_port_start, so any service can bind it directly; this redirect is not needed",
				       problem->redirect->port, start);
	}
}

/* The redirect that sorts equal to key, looked for first at guess: the
 * warnings of a large mapping ask for a neighbour of each redirect, and
 * the sorted array usually has it right there. */
static const struct redirect *find_near(const struct mapping *mapping, size_t guess, const struct redirect *key)
{
	if (guess < mapping->redirect_count && !redirect_compare(&mapping->redirects[guess], key))
		return &mapping->redirects[guess];
	return mapping_find_like(mapping, key, key->port);
}

/* "redirect tcp,udp 80 to 8" is two redirects with one target token: its
 * udp half repeats what its tcp half reported. */
static bool same_line_as_tcp(const struct mapping *mapping, const struct redirect *redirect)
{
	size_t index = (size_t)(redirect - mapping->redirects), tcp_count;
	struct redirect key = *redirect;
	const struct redirect *tcp;

	if (redirect->protocol != PROTOCOL_UDP || !redirect->location.file)
		return false;
	tcp_count = mapping_first_of_port(mapping, PROTOCOL_UDP, 0);
	key.protocol = PROTOCOL_TCP;
	/* With the same ports in both, the tcp half is as far back as there
	 * are tcp redirects. */
	tcp = find_near(mapping, index - tcp_count, &key);
	return tcp && tcp->target == redirect->target && tcp->location.file == redirect->location.file &&
	       tcp->location.line == redirect->location.line && tcp->location.column == redirect->location.column;
}

/* The redirect of the port before, when it came from the same range
 * token: a problem it shares was reported for it already. */
static const struct redirect *same_range_before(const struct mapping *mapping, const struct redirect *redirect)
{
	size_t index = (size_t)(redirect - mapping->redirects);
	struct redirect key = *redirect;
	const struct redirect *before;

	if (redirect->port == 0 || !redirect->location.file)
		return NULL;
	key.port = (uint16_t)(redirect->port - 1);
	before = find_near(mapping, index - 1, &key);
	if (!before || !location_equal(&before->location, &redirect->location) ||
	    before->port_column != redirect->port_column)
		return NULL;
	return before;
}

int config_validate(const struct mapping *mapping, const struct config_kernel *kernel,
		    struct diagnostics *diagnostics)
{
	unsigned int start = mapping->has_unprivileged_port_start ? mapping->unprivileged_port_start
								  : kernel->unprivileged_port_start;
	struct problems errors, warnings;
	struct file_rank *ranks = NULL;
	size_t i = 0, j = 0;
	int r;

	r = file_ranks_new(mapping, &ranks);
	if (r < 0)
		return r;
	problems_init(&errors, ranks, mapping->file_count);
	problems_init(&warnings, ranks, mapping->file_count);
	if (mapping->has_unprivileged_port_start && mapping->unprivileged_port_start > kernel->local_port_first) {
		struct problem *problem = problems_add(&errors, &mapping->unprivileged_port_start_location);

		if (problem)
			problem->kind = START_ABOVE_LOCAL_RANGE;
	}
	for (size_t k = 0; k < mapping->redirect_count; k++) {
		const struct redirect *redirect = &mapping->redirects[k];
		const struct redirect *before = same_range_before(mapping, redirect);
		struct problem *problem;

		if ((redirect->target < start || redirect->port >= start) && same_line_as_tcp(mapping, redirect))
			continue;
		if (redirect->target < start && !(before && before->target < start)) {
			const struct location target = redirect_target_location(redirect);

			problem = problems_add(&errors, &target);
			if (problem) {
				problem->kind = TARGET_PRIVILEGED;
				problem->redirect = redirect;
			}
		}
		if (redirect->port >= start && !(before && before->port >= start)) {
			const struct location port = redirect_port_location(redirect);

			problem = problems_add(&warnings, &port);
			if (problem) {
				problem->kind = PORT_UNPRIVILEGED;
				problem->redirect = redirect;
			}
		}
	}
	/* Errors and warnings together in file order, as a compiler says them. */
	while (r >= 0 && (i < errors.kept || j < warnings.kept)) {
		const struct problem *problem;

		if (j == warnings.kept || (i < errors.kept && problem_compare(&errors.items[i], &warnings.items[j]) <= 0))
			problem = &errors.items[i++];
		else
			problem = &warnings.items[j++];
		r = report_validation_problem(problem, mapping, kernel, diagnostics);
	}
	diagnostics_count_dropped(diagnostics, SEVERITY_ERROR, errors.total - errors.kept);
	diagnostics_count_dropped(diagnostics, SEVERITY_WARNING, warnings.total - warnings.kept);
	free(ranks);
	return r;
}
