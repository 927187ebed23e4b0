/* Escaping of user-supplied text for printing (escape.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "escape.h"

/* The length of the valid, printable UTF-8 sequence at text, or 0 when
 * its first byte must be escaped: a control character, a stray or
 * overlong byte, a surrogate, beyond U+10FFFF, or a C1 control. */
static size_t printable_sequence(const unsigned char *text, size_t length)
{
	uint32_t code;
	size_t need;

	if (text[0] >= 0x20 && text[0] < 0x7f)
		return 1;
	if (text[0] < 0xc2 || text[0] > 0xf4)
		return 0;
	need = text[0] < 0xe0 ? 2 : text[0] < 0xf0 ? 3 : 4;
	if (length < need)
		return 0;
	code = text[0] & (need == 2 ? 0x1f : need == 3 ? 0x0f : 0x07);
	for (size_t i = 1; i < need; i++) {
		if ((text[i] & 0xc0) != 0x80)
			return 0;
		code = code << 6 | (text[i] & 0x3f);
	}
	if ((need == 3 && code < 0x800) || (need == 4 && (code < 0x10000 || code > 0x10ffff)) ||
	    (code >= 0xd800 && code <= 0xdfff) || (code >= 0x80 && code <= 0x9f))
		return 0;
	return need;
}

bool escape_needed(const char *text, size_t length)
{
	const unsigned char *bytes = (const unsigned char *)text;

	for (size_t i = 0; i < length;) {
		size_t n = printable_sequence(bytes + i, length - i);

		if (!n)
			return true;
		i += n;
	}
	return false;
}

void escape_write(FILE *stream, const char *text, size_t length)
{
	const unsigned char *bytes = (const unsigned char *)text;
	size_t start = 0;

	for (size_t i = 0; i < length;) {
		size_t n = printable_sequence(bytes + i, length - i);

		if (n) {
			i += n;
			continue;
		}
		fwrite(text + start, 1, i - start, stream);
		fprintf(stream, "\\x%02x", bytes[i]);
		start = ++i;
	}
	fwrite(text + start, 1, length - start, stream);
}

char *escape_text(const char *text)
{
	char *escaped = NULL;
	size_t size = 0;
	FILE *stream = open_memstream(&escaped, &size);

	if (!stream)
		return NULL;
	escape_write(stream, text, strlen(text));
	if (fclose(stream) != 0) {
		free(escaped);
		return NULL;
	}
	return escaped;
}

void escape_write_json(FILE *stream, const char *text)
{
	const unsigned char *bytes = (const unsigned char *)text;
	size_t length = strlen(text);

	fputc('"', stream);
	for (size_t i = 0; i < length;) {
		size_t n = printable_sequence(bytes + i, length - i);

		if (n && bytes[i] != '"' && bytes[i] != '\\') {
			fwrite(text + i, 1, n, stream);
			i += n;
		} else if (bytes[i] == '"' || bytes[i] == '\\') {
			fprintf(stream, "\\%c", bytes[i]);
			i++;
		} else if (bytes[i] < 0x20 || bytes[i] == 0x7f) {
			fprintf(stream, "\\u%04x", bytes[i]);
			i++;
		} else if (bytes[i] == 0xc2 && i + 1 < length && bytes[i + 1] >= 0x80 && bytes[i + 1] <= 0x9f) {
			/* A C1 control, well formed: its code point. */
			fprintf(stream, "\\u%04x", bytes[i + 1]);
			i += 2;
		} else {
			fprintf(stream, "\\\\x%02x", bytes[i]);
			i++;
		}
	}
	fputc('"', stream);
}
