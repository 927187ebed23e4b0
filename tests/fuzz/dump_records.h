/* The file format of recorded dumps, shared by the recorder and the
 * decoder's fuzz target: a sequence of records, each one byte naming the
 * dump (an index into dump_record_types), two bytes of length (little
 * endian), then that many bytes of netlink messages as the kernel sent
 * them. A dump longer than a record holds is split at message boundaries
 * into records of the same type. Kept simple, so that the fuzzer's
 * mutations mostly reach the messages rather than the framing. */
#ifndef DUMP_RECORDS_H
#define DUMP_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netfilter/nf_tables.h>

#define DUMP_RECORD_HEADER_SIZE 3
#define DUMP_RECORD_MAX_LENGTH 0xffff

/* In the order the reader asks for them. */
static const uint16_t dump_record_types[] = {
	NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETSET, NFT_MSG_GETRULE, NFT_MSG_GETSETELEM,
};
#define DUMP_RECORD_TYPE_COUNT (sizeof(dump_record_types) / sizeof(dump_record_types[0]))

#endif
