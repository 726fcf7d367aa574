package edgeai.engines;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.paho.client.mqttv3.IMqttDeliveryToken;
import org.eclipse.paho.client.mqttv3.MqttCallbackExtended;
import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttException;
import org.eclipse.paho.client.mqttv3.MqttMessage;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;

/**
 * Device events into the site's Kafka topics: the ingest chart's bridge (charts/ingest).
 *
 * <p>HTTP: {@code POST /v1/events/<topic>} with a JSON object, or an array of objects, is answered
 * 200 only after Kafka acknowledged every record (acks=all, idempotent producer): a 2xx means durable.
 * The gateway authenticates the device, limits its rate and passes its name in {@code X-Edgeai-Device};
 * this port is reachable only from the gateway's namespace (NetworkPolicy).
 *
 * <p>MQTT: subscribes to {@code devices/+/<topic>} with QoS 1 on a persistent session and acknowledges
 * (PUBACK) a message to the broker only after Kafka acknowledged its record. A record Kafka refuses is
 * never acknowledged: the bridge exits, and the broker hands the unacknowledged messages of its
 * session to the restarted bridge (at least once). The broker (Mosquitto with the device_limits plugin)
 * authenticates devices and refuses what is over a device's limit before acknowledging it to the device.
 *
 * <p>Every record is keyed by the event's {@code KEY_FIELD} (default sensorId) when it is a string,
 * else by the device, and carries the device's name in header {@code edgeai-device}. Configuration
 * from the environment: KAFKA_BOOTSTRAP, TOPICS (comma-separated), HTTP_PORT, MQTT_URL ("" = no MQTT),
 * MQTT_USERNAME, MQTT_PASSWORD, MQTT_CLIENT_ID, KEY_FIELD, MAX_BODY_BYTES, MAX_BATCH, PRODUCER_CONFIG
 * ("k=v,k=v", e.g. linger.ms=5).
 */
public final class IngestBridge {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern EVENTS_PATH = Pattern.compile("^/v1/events/([A-Za-z0-9._-]+)$");
    private static final Pattern MQTT_TOPIC = Pattern.compile("^devices/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)$");
    private static final Pattern DEVICE = Pattern.compile("^[A-Za-z0-9._-]{1,128}$");

    private final KafkaProducer<String, byte[]> producer;
    private final Set<String> topics;
    private final String keyField;
    private final int maxBodyBytes;
    private final int maxBatch;
    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();
    private volatile MqttClient mqtt;
    private volatile boolean mqttWanted;

    IngestBridge(String bootstrap, Set<String> topics, String keyField, int maxBodyBytes, int maxBatch,
                 String producerConfig) {
        this.topics = topics;
        this.keyField = keyField;
        this.maxBodyBytes = maxBodyBytes;
        this.maxBatch = maxBatch;
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "edgeai-ingest-bridge");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "2");
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        for (String kv : producerConfig.split(",")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                props.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
            }
        }
        producer = new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
    }

    private void count(String name) {
        counters.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet();
    }

    /** One record per event of the payload (an object, or an array of objects); null when invalid. */
    private List<ProducerRecord<String, byte[]>> records(String topic, String device, byte[] payload) {
        JsonNode root;
        try {
            root = JSON.readTree(payload);
        } catch (IOException e) {
            return null;
        }
        List<JsonNode> events = new ArrayList<>();
        if (root != null && root.isObject()) {
            events.add(root);
        } else if (root != null && root.isArray() && root.size() > 0 && root.size() <= maxBatch) {
            for (JsonNode e : root) {
                if (!e.isObject()) {
                    return null;
                }
                events.add(e);
            }
        } else {
            return null;
        }
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>(events.size());
        for (JsonNode e : events) {
            JsonNode k = e.get(keyField);
            String key = k != null && k.isTextual() ? k.asText() : device;
            byte[] value = events.size() == 1 && root.isObject() ? payload : e.toString().getBytes(StandardCharsets.UTF_8);
            ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, value);
            r.headers().add(new RecordHeader("edgeai-device", device.getBytes(StandardCharsets.UTF_8)));
            out.add(r);
        }
        return out;
    }

    // --- HTTP ------------------------------------------------------------------------------------

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = (body + "\n").getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", status == 200 && body.startsWith("#") ? "text/plain" : "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }

    private static byte[] readBody(InputStream in, int max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
            if (out.size() + n > max) {
                return null;
            }
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    private void handleEvents(HttpExchange ex) throws IOException {
        try (ex) {
            Matcher m = EVENTS_PATH.matcher(ex.getRequestURI().getPath());
            if (!"POST".equals(ex.getRequestMethod())) {
                reply(ex, 405, "{\"error\":\"POST a JSON event or an array of events\"}");
                return;
            }
            if (!m.matches() || !topics.contains(m.group(1))) {
                count("http_rejected{reason=\"topic\"}");
                reply(ex, 404, "{\"error\":\"no such ingest topic\"}");
                return;
            }
            String device = ex.getRequestHeaders().getFirst("X-Edgeai-Device");
            if (device == null || !DEVICE.matcher(device).matches()) {
                count("http_rejected{reason=\"device\"}");
                reply(ex, 401, "{\"error\":\"no authenticated device\"}");
                return;
            }
            byte[] body = readBody(ex.getRequestBody(), maxBodyBytes);
            if (body == null) {
                count("http_rejected{reason=\"size\"}");
                reply(ex, 413, "{\"error\":\"body larger than " + maxBodyBytes + " bytes\"}");
                return;
            }
            List<ProducerRecord<String, byte[]>> records = records(m.group(1), device, body);
            if (records == null) {
                count("http_rejected{reason=\"invalid\"}");
                reply(ex, 400, "{\"error\":\"the body is not a JSON object or an array of 1.." + maxBatch + " objects\"}");
                return;
            }
            List<Future<RecordMetadata>> acks = new ArrayList<>(records.size());
            try {
                for (ProducerRecord<String, byte[]> r : records) {
                    acks.add(producer.send(r));
                }
                for (Future<RecordMetadata> f : acks) {
                    f.get(40, TimeUnit.SECONDS);
                }
            } catch (ExecutionException | TimeoutException | RuntimeException e) {
                count("http_rejected{reason=\"kafka\"}");
                System.err.println("ingest: HTTP events of device " + device + " not acknowledged by Kafka: " + e);
                reply(ex, 503, "{\"error\":\"Kafka did not acknowledge the events; send them again\"}");
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                reply(ex, 503, "{\"error\":\"interrupted\"}");
                return;
            }
            counters.computeIfAbsent("events{protocol=\"http\"}", k -> new AtomicLong()).addAndGet(records.size());
            reply(ex, 200, "{\"accepted\":" + records.size() + "}");
        }
    }

    private void handleHealth(HttpExchange ex) throws IOException {
        try (ex) {
            MqttClient c = mqtt;
            boolean ok = !mqttWanted || (c != null && c.isConnected());
            reply(ex, ok ? 200 : 503, ok ? "{\"status\":\"ok\"}" : "{\"status\":\"MQTT broker not connected\"}");
        }
    }

    private void handleMetrics(HttpExchange ex) throws IOException {
        try (ex) {
            StringBuilder sb = new StringBuilder("# TYPE edgeai_ingest_total counter\n");
            counters.forEach((k, v) -> {
                int brace = k.indexOf('{');
                String name = brace < 0 ? k : k.substring(0, brace);
                String labels = brace < 0 ? "" : k.substring(brace + 1, k.length() - 1);
                sb.append("edgeai_ingest_total{kind=\"").append(name).append('"')
                  .append(labels.isEmpty() ? "" : "," + labels).append("} ").append(v.get()).append('\n');
            });
            reply(ex, 200, sb.toString().trim());
        }
    }

    void serveHttp(int port) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 256);
        server.createContext("/v1/events/", this::handleEvents);
        server.createContext("/healthz", this::handleHealth);
        server.createContext("/metrics", this::handleMetrics);
        server.setExecutor(Executors.newFixedThreadPool(32));
        server.start();
        System.out.println("ingest: HTTP on :" + port + ", topics " + topics);
    }

    // --- MQTT ------------------------------------------------------------------------------------

    void bridgeMqtt(String url, String clientId, String username, String password) throws MqttException {
        mqttWanted = true;
        MqttClient client = new MqttClient(url, clientId, new MemoryPersistence());
        client.setManualAcks(true);
        String[] filters = topics.stream().map(t -> "devices/+/" + t).toArray(String[]::new);
        int[] qos = new int[filters.length];
        Arrays.fill(qos, 1);
        client.setCallback(new MqttCallbackExtended() {
            @Override
            public void connectComplete(boolean reconnect, String serverURI) {
                try {
                    client.subscribe(filters, qos);
                    System.out.println("ingest: MQTT " + (reconnect ? "reconnected to " : "connected to ") + serverURI
                                       + ", subscribed to " + String.join(" ", filters) + " (QoS 1)");
                } catch (MqttException e) {
                    System.err.println("ingest: MQTT subscribe failed: " + e);
                    System.exit(1);
                }
            }

            @Override
            public void connectionLost(Throwable cause) {
                System.err.println("ingest: MQTT connection lost (" + cause + "); reconnecting");
            }

            @Override
            public void messageArrived(String topic, MqttMessage message) {
                Matcher m = MQTT_TOPIC.matcher(topic);
                List<ProducerRecord<String, byte[]>> records =
                    m.matches() && topics.contains(m.group(2)) ? records(m.group(2), m.group(1), message.getPayload()) : null;
                if (records == null) {
                    // The broker has acknowledged it to the device already; it is counted and logged, not lost quietly.
                    count("mqtt_rejected{reason=\"invalid\"}");
                    System.err.println("ingest: MQTT message on " + topic + " is not a JSON object or array of objects: not forwarded");
                    ack(client, message);
                    return;
                }
                AtomicLong pending = new AtomicLong(records.size());
                for (ProducerRecord<String, byte[]> r : records) {
                    producer.send(r, (meta, err) -> {
                        if (err != null) {
                            // Never acknowledged: the broker redelivers it to the restarted bridge.
                            System.err.println("ingest: Kafka refused an MQTT event (" + err + "); exiting so that the"
                                               + " broker redelivers the unacknowledged messages");
                            Runtime.getRuntime().halt(1);
                        }
                        if (pending.decrementAndGet() == 0) {
                            counters.computeIfAbsent("events{protocol=\"mqtt\"}", k -> new AtomicLong()).addAndGet(records.size());
                            ack(client, message);
                        }
                    });
                }
            }

            @Override
            public void deliveryComplete(IMqttDeliveryToken token) {
            }
        });
        MqttConnectOptions opts = new MqttConnectOptions();
        opts.setCleanSession(false);          // the broker keeps the subscription and queues while we are away
        opts.setAutomaticReconnect(true);
        opts.setUserName(username);
        opts.setPassword(password.toCharArray());
        opts.setKeepAliveInterval(30);
        opts.setMaxInflight(1000);
        while (true) {
            try {
                client.connect(opts);
                break;
            } catch (MqttException e) {
                System.err.println("ingest: MQTT connect to " + url + " failed (" + e.getMessage() + "); retrying in 2 s");
                try {
                    Thread.sleep(2000);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
        mqtt = client;
    }

    private static void ack(MqttClient client, MqttMessage message) {
        try {
            client.messageArrivedComplete(message.getId(), message.getQos());
        } catch (MqttException e) {
            System.err.println("ingest: MQTT acknowledgement failed (" + e + "); the broker will redeliver");
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = env("KAFKA_BOOTSTRAP", null);
        String topicList = env("TOPICS", null);
        if (bootstrap == null || topicList == null) {
            System.err.println("ingest: KAFKA_BOOTSTRAP and TOPICS must be set");
            System.exit(2);
        }
        Set<String> topics = new LinkedHashSet<>(Arrays.asList(topicList.split(",")));
        IngestBridge bridge = new IngestBridge(bootstrap, topics, env("KEY_FIELD", "sensorId"),
            Integer.parseInt(env("MAX_BODY_BYTES", "1048576")), Integer.parseInt(env("MAX_BATCH", "1000")),
            env("PRODUCER_CONFIG", ""));
        bridge.serveHttp(Integer.parseInt(env("HTTP_PORT", "8080")));
        String url = env("MQTT_URL", "");
        if (!url.isEmpty()) {
            String password = env("MQTT_PASSWORD", null);
            if (password == null) {
                System.err.println("ingest: MQTT_PASSWORD must be set with MQTT_URL");
                System.exit(2);
            }
            bridge.bridgeMqtt(url, env("MQTT_CLIENT_ID", "edgeai-ingest-bridge"), env("MQTT_USERNAME", "ingest-bridge"), password);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            MqttClient c = bridge.mqtt;
            try {
                if (c != null) {
                    c.disconnect(5000);
                }
            } catch (MqttException e) {
                // exiting anyway
            }
            bridge.producer.close(java.time.Duration.ofSeconds(10));
        }));
    }
}
