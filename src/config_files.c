/* Reading the mapping from the file system: one file, or every *.conf of a
 * drop-in directory in order, each through a path nobody else can change
 * (path_trust.h); and reading back the lines diagnostics point into, for
 * their excerpts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config_internal.h"
#include "path_trust.h"
#include "util.h"

static const char *file_type_name(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "a special file";
}

/* Reads all of a regular file. A size from fstat() is only a hint: procfs
 * says 0, and a file may grow while read. Returns 0 with *ret_buffer NULL
 * when a problem was reported on file. */
static int read_regular_file(int fd, const struct stat *status, const char *file,
			     struct diagnostics *diagnostics, char **ret_buffer, size_t *ret_length)
{
	size_t first_capacity, capacity = 0, length = 0;
	char *buffer = NULL;
	bool too_large;
	int r = 0;

	*ret_buffer = NULL;
	too_large = (uintmax_t)status->st_size > CONFIG_MAX_FILE_SIZE;
	/* One byte more than the size, so that the end of file is seen by
	 * the first read() coming up short rather than by a regrowth. */
	first_capacity = status->st_size > 0 && !too_large ? (size_t)status->st_size + 1 : 4096;
	while (!too_large) {
		size_t readable;
		ssize_t count;

		r = ARRAY_GROW_ONE(buffer, length, capacity, first_capacity);
		if (r < 0)
			goto out;
		/* Never more than one byte past the limit, even when the last
		 * doubling made more room: that byte is enough to know that
		 * the file is too large. */
		readable = (capacity < CONFIG_MAX_FILE_SIZE + 1 ? capacity : CONFIG_MAX_FILE_SIZE + 1) - length;
		count = read(fd, buffer + length, readable);
		if (count < 0 && errno == EINTR)
			continue;
		if (count < 0) {
			r = file_error(file, diagnostics, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (count == 0) {
			*ret_buffer = buffer;
			*ret_length = length;
			return 0;
		}
		length += (size_t)count;
		too_large = length > CONFIG_MAX_FILE_SIZE;
	}
	r = file_too_large_error(file, diagnostics);
out:
	free(buffer);
	return r;
}

static int parse_directory(int fd, const char *path, const struct path_trust *trust, struct mapping *mapping,
			   struct diagnostics *diagnostics);

static int string_compare(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The object at the end of the path, once opened, is checked like the
 * walk checked it (against a rename in between): both of its problems are
 * said, owner and mode. Returns 1 when it is refused, 0 when it passes,
 * -ENOMEM. */
static int report_untrusted_object(const char *file, const struct stat *status, const struct path_trust *trust,
				   struct diagnostics *diagnostics)
{
	struct path_problem problem = { .is_subject = true, .is_last = true };
	char *text;
	int r = 0;

	if (path_trust_check_last(trust, status, file, &problem) == 0)
		return 0;
	if (problem.kind == PATH_PROBLEM_OWNER) {
		text = path_problem_describe(&problem, file, trust);
		r = text ? file_error(file, diagnostics, "%s", text) : -ENOMEM;
		free(text);
		problem.kind = PATH_PROBLEM_WRITABLE;
	}
	if (r >= 0 && (status->st_mode & (S_IWGRP | S_IWOTH))) {
		text = path_problem_describe(&problem, file, trust);
		r = text ? file_error(file, diagnostics, "%s", text) : -ENOMEM;
		free(text);
	}
	return r < 0 ? r : 1;
}

/* Says why the walk refused the path to file: for the object it leads
 * to, both of its problems. Returns 0 or -ENOMEM. */
static int report_untrusted_path(const char *file, const struct path_problem *problem,
				 const struct path_trust *trust, struct diagnostics *diagnostics)
{
	struct path_problem mode_problem = *problem;
	char *text = path_problem_describe(problem, file, trust);
	int r;

	if (!text)
		return -ENOMEM;
	r = file_error(file, diagnostics, "%s", text);
	free(text);
	if (r < 0 || problem->kind != PATH_PROBLEM_OWNER || !problem->is_last || problem->is_link ||
	    !(problem->mode & (S_IWGRP | S_IWOTH)))
		return r;
	mode_problem.kind = PATH_PROBLEM_WRITABLE;
	text = path_problem_describe(&mode_problem, file, trust);
	if (!text)
		return -ENOMEM;
	r = file_error(file, diagnostics, "%s", text);
	free(text);
	return r;
}

/* Opens name relative to directory_fd (a directory the user knows as
 * directory_path; AT_FDCWD for the top level) and parses it; path is what
 * the user knows it as. Whoever can change the mapping decides what the
 * firewall redirects, so the path is walked as sshd's StrictModes walks
 * it (path_trust.h): every directory from / down, every link and what it
 * leads to, and the file or drop-in directory itself, must be root's or
 * the running user's and writable by nobody else. O_NONBLOCK so that a
 * FIFO does not hang the open, O_NOCTTY so that a terminal does not
 * become ours: both are then refused. */
static int parse_file_at(int directory_fd, const char *directory_path, const char *name, const char *path,
			 bool top_level, const struct path_trust *trust, struct mapping *mapping,
			 struct diagnostics *diagnostics)
{
	struct path_problem problem;
	char last[NAME_MAX + 1];
	const char *file = NULL;
	char *buffer = NULL;
	struct stat status;
	size_t length = 0;
	int parent = -1, fd = -1, r;

	if (top_level)
		r = path_trust_walk(path, trust, &parent, last, &problem);
	else
		r = path_trust_walk_at(directory_fd, directory_path, name, trust, &parent, last, &problem);
	if (r < 0) {
		file = mapping_add_file(mapping, path);
		r = file ? report_untrusted_path(file, &problem, trust, diagnostics) : -ENOMEM;
		goto out;
	}
	/* No link is left to follow: one there now was put there since. */
	fd = openat(parent, last, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &status) < 0) {
		int error = errno;

		file = mapping_add_file(mapping, path);
		r = file ? file_error(file, diagnostics, "cannot open: %s", strerror(error)) : -ENOMEM;
		goto out;
	}
	if (path_trust_check_last(trust, &status, path, &problem) < 0) {
		file = mapping_add_file(mapping, path);
		r = file ? report_untrusted_object(file, &status, trust, diagnostics) : -ENOMEM;
		r = r < 0 ? r : 0;
		goto out;
	}
	if (top_level && S_ISDIR(status.st_mode)) {
		r = parse_directory(fd, path, trust, mapping, diagnostics);
		fd = -1;
		goto out;
	}
	file = mapping_add_file(mapping, path);
	if (!file) {
		r = -ENOMEM;
		goto out;
	}
	if (!S_ISREG(status.st_mode)) {
		if (top_level)
			r = file_error(file, diagnostics,
				       "not a regular file but %s; give a mapping file or a directory of *.conf files",
				       file_type_name(status.st_mode));
		else
			r = file_error(file, diagnostics, "not a regular file but %s; only regular files are read",
				       file_type_name(status.st_mode));
		goto out;
	}
	r = read_regular_file(fd, &status, file, diagnostics, &buffer, &length);
	if (r < 0 || !buffer)
		goto out;
	r = config_parse_text(file, buffer, length, mapping, diagnostics);
out:
	free(buffer);
	if (fd >= 0)
		close(fd);
	if (parent >= 0)
		close(parent);
	return r;
}

/* Every NAME.conf of the directory open as fd, in strcmp() order so that
 * 10-base.conf comes before 20-site.conf in every locale. Takes fd. */
static int parse_directory(int fd, const char *path, const struct path_trust *trust, struct mapping *mapping,
			   struct diagnostics *diagnostics)
{
	const char *separator = path[0] && path[strlen(path) - 1] == '/' ? "" : "/";
	size_t count = 0, capacity = 0;
	struct dirent *entry;
	char **names = NULL;
	const char *file;
	DIR *directory;
	int r = 0;

	directory = fdopendir(fd);
	if (!directory) {
		int error = errno;

		close(fd);
		file = mapping_add_file(mapping, path);
		return file ? file_error(file, diagnostics, "cannot read directory: %s", strerror(error)) : -ENOMEM;
	}
	for (;;) {
		size_t length;

		errno = 0;
		entry = readdir(directory);
		if (!entry)
			break;
		length = strlen(entry->d_name);
		/* Dot files are editor backups and package-manager leftovers
		 * (.rules.conf.swp, .#rules.conf). */
		if (entry->d_name[0] == '.' || length < 5 || strcmp(entry->d_name + length - 5, ".conf"))
			continue;
		r = ARRAY_GROW_ONE(names, count, capacity, 16);
		if (r < 0)
			goto out;
		names[count] = strdup(entry->d_name);
		if (!names[count]) {
			r = -ENOMEM;
			goto out;
		}
		count++;
	}
	if (errno) {
		int error = errno;

		file = mapping_add_file(mapping, path);
		r = file ? file_error(file, diagnostics, "cannot read directory: %s", strerror(error)) : -ENOMEM;
		goto out;
	}
	if (count == 0) {
		file = mapping_add_file(mapping, path);
		r = file ? file_error(file, diagnostics,
				      "directory has no *.conf files; put the mapping in a file whose name ends in '.conf'")
			 : -ENOMEM;
		goto out;
	}
	qsort(names, count, sizeof(*names), string_compare);
	for (size_t i = 0; i < count; i++) {
		size_t size = strlen(path) + strlen(separator) + strlen(names[i]) + 1;
		char *entry_path = malloc(size);

		if (!entry_path) {
			r = -ENOMEM;
			goto out;
		}
		strcpy(entry_path, path);
		strcat(entry_path, separator);
		strcat(entry_path, names[i]);
		r = parse_file_at(dirfd(directory), path, names[i], entry_path, false, trust, mapping, diagnostics);
		free(entry_path);
		if (r < 0)
			goto out;
	}
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	closedir(directory);
	return r;
}

int config_parse_path(const char *path, struct mapping *mapping, struct diagnostics *diagnostics)
{
	struct path_trust trust;
	int r;

	path_trust_init(&trust);
	r = parse_file_at(AT_FDCWD, NULL, path, path, true, &trust, mapping, diagnostics);
	if (r < 0)
		return r;
	return config_finish(mapping, diagnostics);
}

struct needed_line {
	unsigned int line;
	struct diagnostic *diagnostic;
};

static int needed_line_compare(const void *a, const void *b)
{
	const struct needed_line *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* Keeps the line for diagnostic, as the parser saw it: without "\r\n" or
 * "\n" at its end, and without a byte-order mark at the start of the file
 * (columns count from after it). */
static int keep_source_line(struct diagnostic *diagnostic, const char *line, size_t length)
{
	static const char byte_order_mark[] = "\xef\xbb\xbf";

	if (length && line[length - 1] == '\n') {
		length--;
		if (length && line[length - 1] == '\r')
			length--;
	}
	if (diagnostic->location.line == 1 && length >= 3 && !memcmp(line, byte_order_mark, 3)) {
		line += 3;
		length -= 3;
	}
	diagnostic->source_truncated = length > DIAGNOSTIC_SOURCE_MAX;
	if (diagnostic->source_truncated)
		length = DIAGNOSTIC_SOURCE_MAX;
	diagnostic->source = malloc(length + 1);
	if (!diagnostic->source)
		return -ENOMEM;
	memcpy(diagnostic->source, line, length);
	diagnostic->source[length] = '\0';
	diagnostic->source_length = length;
	return 0;
}

/* Reads file once and gives each of its diagnostics in needed (sorted by
 * line) its line. The file is opened as the parser opened it, and read
 * only if it still is a regular file that the parser would have read. */
static int read_sources_of(const char *file, struct needed_line *needed, size_t count)
{
	unsigned int number = 0;
	size_t next = 0, line_size = 0, total = 0;
	struct path_problem problem = { .is_subject = true, .is_last = true };
	struct path_trust trust;
	char name[NAME_MAX + 1];
	struct stat status;
	int directory;
	char *line = NULL;
	FILE *stream;
	ssize_t length;
	int fd, r = 0;

	/* Through the same walk as the parse (path_trust.h): the excerpt must
	 * not show a line of a file swapped in since. */
	path_trust_init(&trust);
	if (path_trust_walk(file, &trust, &directory, name, &problem) < 0)
		return 0;
	fd = openat(directory, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	close(directory);
	if (fd < 0)
		return 0;
	if (fstat(fd, &status) < 0 || !S_ISREG(status.st_mode) ||
	    path_trust_check_last(&trust, &status, file, &problem) < 0) {
		close(fd);
		return 0;
	}
	stream = fdopen(fd, "r");
	if (!stream) {
		close(fd);
		return 0;
	}
	while (next < count && (length = getline(&line, &line_size, stream)) >= 0) {
		total += (size_t)length;
		if (total > CONFIG_MAX_FILE_SIZE)
			break;
		number++;
		for (; next < count && needed[next].line == number; next++) {
			r = keep_source_line(needed[next].diagnostic, line, (size_t)length);
			if (r < 0)
				goto out;
		}
	}
out:
	free(line);
	fclose(stream);
	return r;
}

int config_read_sources(struct diagnostics *diagnostics)
{
	struct needed_line *needed = NULL;
	int r = 0;

	needed = calloc(diagnostics->count ? diagnostics->count : 1, sizeof(*needed));
	if (!needed)
		return -ENOMEM;
	for (size_t i = 0; i < diagnostics->count && r >= 0; i++) {
		const char *file = diagnostics->items[i].location.file;
		bool done = false;
		size_t count = 0;

		if (!file || !diagnostics->items[i].location.line)
			continue;
		/* Each file once, when its first diagnostic comes up. */
		for (size_t j = 0; j < i && !done; j++)
			done = diagnostics->items[j].location.file && diagnostics->items[j].location.line &&
			       !strcmp(diagnostics->items[j].location.file, file);
		if (done)
			continue;
		for (size_t j = i; j < diagnostics->count; j++) {
			struct diagnostic *diagnostic = &diagnostics->items[j];

			if (diagnostic->location.file && diagnostic->location.line && !diagnostic->source &&
			    !strcmp(diagnostic->location.file, file))
				needed[count++] = (struct needed_line){ diagnostic->location.line, diagnostic };
		}
		qsort(needed, count, sizeof(*needed), needed_line_compare);
		r = read_sources_of(file, needed, count);
	}
	free(needed);
	return r;
}
