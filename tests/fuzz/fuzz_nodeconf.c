/*
 * fuzz_nodeconf.c — libFuzzer target for the node configuration reader
 * (src/base/nodeconf*.c, libinih underneath; with the service.conf
 * override reader, nodeconf_override.c): the input is written to a
 * file and loaded as node.conf. Invariants that abort when broken:
 *   - a refused file has a message naming the file;
 *   - a loaded one has an id, a data_dir, a cluster address, a name and
 *     a domain, a heartbeat below the election timeout, at most
 *     NODECONF_PEERS_MAX distinct peers with this node among them when
 *     any are listed, every string field terminated inside its array;
 *   - loading the same file again gives the same struct byte for byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/base/nodeconf.c"
#include "src/base/nodeconf_check.c"
#include "src/base/nodeconf_keys.c"
#include "src/base/nodeconf_override.c"
#include "src/base/fsync_dir.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

static char path[64];

static void check_loaded(const struct nodeconf *c)
{
	int self = 0;

	if (c->id == 0 || c->data_dir[0] == '\0' ||
	    c->cluster_address[0] == '\0' || c->name[0] == '\0' ||
	    c->domain[0] == '\0' || c->control_socket[0] == '\0' ||
	    c->heartbeat_timeout_ms >= c->election_timeout_ms ||
	    c->npeers > NODECONF_PEERS_MAX)
		abort();
	if (!TERMINATED(c->name) || !TERMINATED(c->data_dir) ||
	    !TERMINATED(c->domain) || !TERMINATED(c->smtp_listen) ||
	    !TERMINATED(c->dlv_backend) || !TERMINATED(c->dlv_activity_log) ||
	    !TERMINATED(c->control_socket) || !TERMINATED(c->admin_group) ||
	    !TERMINATED(c->log_level) || !TERMINATED(c->log_file))
		abort();
	for (unsigned i = 0; i < c->npeers; i++) {
		if (!TERMINATED(c->peers[i].address))
			abort();
		self += c->peers[i].id == c->id;
		for (unsigned j = 0; j < i; j++)
			if (c->peers[i].id == c->peers[j].id)
				abort();
	}
	if (c->npeers > 0 && self != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nodeconf c, again;
	char err[512];
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/fuzz_nodeconf.%ld.conf",
			 (long)getpid());
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	nodeconf_defaults(&c);
	err[0] = '\0';
	if (nodeconf_load(&c, path, err, sizeof(err)) != 0) {
		if (strncmp(err, path, strlen(path)) != 0)
			abort();
		return 0;
	}
	check_loaded(&c);
	nodeconf_defaults(&again);
	if (nodeconf_load(&again, path, err, sizeof(err)) != 0 ||
	    memcmp(&c, &again, sizeof(c)) != 0)
		abort();
	return 0;
}
