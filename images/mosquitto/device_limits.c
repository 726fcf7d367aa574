/*
 * edgeai device ACL and per-device rate limit: a Mosquitto 2.0 plugin (plugin API v5).
 *
 * Mosquitto has no per-client rate limit, and an MQTT subscriber (the Kafka bridge) cannot refuse a
 * message the broker has already acknowledged to the device. So the limit is enforced here, when a
 * device's PUBLISH is checked, before the broker accepts it:
 *
 *   - a device (any user but the bridge) may publish only to devices/<its username>/<topic>, for the
 *     topics of plugin_opt_topics; it may not subscribe or receive;
 *   - the bridge user (plugin_opt_bridge_user) may subscribe to and receive devices/+/<topic>, and
 *     may not publish;
 *   - each device has a token bucket of plugin_opt_rate messages/s and plugin_opt_burst messages. A
 *     PUBLISH beyond it is refused, never accepted and lost: an MQTT 5 device gets PUBACK reason
 *     0x87 (the only refusal code Mosquitto 2.0 sends for a publish its ACL check denies) and stays
 *     connected; an MQTT 3.1.1 device, whose PUBACK cannot carry a refusal, is disconnected (its
 *     client library keeps the unacknowledged message and sends it again after reconnecting).
 *
 * Everything else is denied. Mosquitto runs plugins on its one network thread: no locking.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define BUCKETS 4096
#define MAX_TOPICS 32

struct device {
	struct device *next;
	double tokens;
	double last;        /* monotonic seconds of the last refill */
	double last_log;    /* when a refusal of this device was last logged */
	unsigned long refused;
	char name[];
};

static mosquitto_plugin_id_t *plugin_id;
static struct device *table[BUCKETS];
static char *topics[MAX_TOPICS];
static int topic_count;
static char *bridge_user;
static double rate = 50, burst = 100;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct device *device_of(const char *name)
{
	uint32_t h = 2166136261u;
	for(const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
	struct device **slot = &table[h % BUCKETS];
	for(struct device *d = *slot; d; d = d->next){
		if(!strcmp(d->name, name)) return d;
	}
	size_t len = strlen(name);
	struct device *d = calloc(1, sizeof(*d) + len + 1);
	if(!d) return NULL;
	memcpy(d->name, name, len + 1);
	d->tokens = burst;
	d->last = now();
	d->last_log = -1e9;
	d->next = *slot;
	*slot = d;
	return d;
}

/* Whether topic is devices/<device>/<t> for one of the ingest topics t; device NULL: any one level. */
static bool ingest_topic(const char *topic, const char *device)
{
	static const char prefix[] = "devices/";
	if(strncmp(topic, prefix, sizeof(prefix) - 1)) return false;
	const char *level = topic + sizeof(prefix) - 1;
	const char *slash = strchr(level, '/');
	if(!slash || slash == level) return false;
	if(device){
		if((size_t)(slash - level) != strlen(device) || strncmp(level, device, (size_t)(slash - level))) return false;
	}else if(!(slash - level == 1 && level[0] == '+')){
		for(const char *p = level; p < slash; p++) if(*p == '#' || *p == '+') return false;
	}
	for(int i = 0; i < topic_count; i++){
		if(!strcmp(slash + 1, topics[i])) return true;
	}
	return false;
}

static bool valid_name(const char *name)
{
	if(!name || !*name) return false;
	for(const char *p = name; *p; p++){
		if(!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return false;
	}
	return true;
}

static int take_token(struct mosquitto *client, const char *user)
{
	struct device *d = device_of(user);
	if(!d) return MOSQ_ERR_NOMEM;
	double t = now();
	d->tokens += (t - d->last) * rate;
	if(d->tokens > burst) d->tokens = burst;
	d->last = t;
	if(d->tokens >= 1.0){
		d->tokens -= 1.0;
		return MOSQ_ERR_SUCCESS;
	}
	d->refused++;
	int v5 = mosquitto_client_protocol_version(client) == 5;
	if(t - d->last_log >= 10.0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "edgeai: device %s is over its limit (%.0f msg/s, burst %.0f): "
				"publish refused (%s), %lu refused so far", user, rate, burst,
				v5 ? "PUBACK 0x87" : "MQTT 3.1.1: disconnected", d->refused);
		d->last_log = t;
	}
	/* MQTT 5: Mosquitto answers an ACL denial with a refusing PUBACK. MQTT 3.1.1 has no refusing
	 * PUBACK (Mosquitto would acknowledge and drop), so any other error: Mosquitto disconnects. */
	return v5 ? MOSQ_ERR_ACL_DENIED : MOSQ_ERR_ADMINISTRATIVE_ACTION;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	(void)event; (void)userdata;
	struct mosquitto_evt_acl_check *ed = event_data;
	const char *user = mosquitto_client_username(ed->client);
	if(!valid_name(user)) return MOSQ_ERR_ACL_DENIED;
	if(!strcmp(user, bridge_user)){
		if(ed->access == MOSQ_ACL_SUBSCRIBE || ed->access == MOSQ_ACL_READ){
			return ingest_topic(ed->topic, NULL) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		}
		return MOSQ_ERR_ACL_DENIED;
	}
	if(ed->access != MOSQ_ACL_WRITE || !ingest_topic(ed->topic, user)) return MOSQ_ERR_ACL_DENIED;
	return take_token(ed->client, user);
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

static int fail(const char *what)
{
	mosquitto_log_printf(MOSQ_LOG_ERR, "edgeai: device_limits plugin: %s", what);
	return MOSQ_ERR_INVAL;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *opts, int opt_count)
{
	(void)userdata;
	plugin_id = identifier;
	for(int i = 0; i < opt_count; i++){
		char *end;
		if(!strcmp(opts[i].key, "rate")){
			rate = strtod(opts[i].value, &end);
			if(*end || rate <= 0) return fail("plugin_opt_rate must be a positive number (messages/s)");
		}else if(!strcmp(opts[i].key, "burst")){
			burst = strtod(opts[i].value, &end);
			if(*end || burst < 1) return fail("plugin_opt_burst must be a number >= 1 (messages)");
		}else if(!strcmp(opts[i].key, "bridge_user")){
			bridge_user = strdup(opts[i].value);
		}else if(!strcmp(opts[i].key, "topics")){
			char *list = strdup(opts[i].value), *save = NULL;
			for(char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)){
				if(topic_count == MAX_TOPICS) return fail("more than 32 plugin_opt_topics");
				if(!valid_name(t)) return fail("a topic of plugin_opt_topics is not made of A-Z a-z 0-9 . _ -");
				topics[topic_count++] = t;
			}
		}else{
			return fail("unknown option (known: rate, burst, bridge_user, topics)");
		}
	}
	if(!valid_name(bridge_user)) return fail("plugin_opt_bridge_user is missing or not made of A-Z a-z 0-9 . _ -");
	if(topic_count == 0) return fail("plugin_opt_topics is missing");
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "edgeai: device_limits: %d topic(s), %.0f msg/s burst %.0f per device",
			topic_count, rate, burst);
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
	(void)userdata; (void)opts; (void)opt_count;
	return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
}
