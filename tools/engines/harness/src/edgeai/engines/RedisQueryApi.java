package edgeai.engines;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import redis.clients.jedis.JedisPooled;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

/**
 * The site's real-time query API over Redis (charts/redis `query`): what the CEP app writes there
 * through RedisStore (one hash per sensor under `<table>:<sensorId>`, RedisStore.rowKey), read back as
 * JSON with a read-only Redis user. It sits next to the writer so that the key layout lives in one
 * place; it runs from the siddhi-runner image, which already carries this package and Jedis.
 *
 * <pre>
 * GET /v1/query/sensors/{id}          200 {"sensorId", "aggregates": {...}|null, "prediction": {...}|null}
 *                                     404 when Redis holds neither for the sensor; 400 for a malformed id
 * GET /v1/query/sensors?prefix=&limit= 200 {"sensors": [ same objects, by id ], "count", "limit", "truncated"}
 *                                     at most `limit` (default 50, at most QUERY_MAX_LIMIT) sensors
 * GET /livez, /readyz                 the process; Redis answers PING with these credentials
 * GET /metrics (METRICS_PORT)         Prometheus: requests, and the aggregates and latest prediction of up to
 *                                     METRICS_MAX_SENSORS sensors as gauges (Grafana's query-api dashboard)
 * </pre>
 *
 * Configuration from the environment: REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD (never
 * logged), AGGREGATES_TABLE, PREDICTIONS_TABLE, QUERY_HOST (0.0.0.0), QUERY_PORT, METRICS_PORT,
 * QUERY_MAX_LIMIT, METRICS_MAX_SENSORS. Only HGETALL, SCAN and PING are sent, which is what the chart's
 * ACL user allows. Prints "edgeai-query: ready" when both ports listen.
 */
public final class RedisQueryApi {
    /** Sensor ids and prefixes: no glob characters, so a prefix is safe inside SCAN's MATCH pattern. */
    static final Pattern SENSOR_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
    static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9._:-]{0,128}");
    /** Hash fields that are names, kept as JSON strings even when they look like numbers. */
    static final java.util.Set<String> STRING_FIELDS = java.util.Set.of("sensorId", "model");
    private static final int SCAN_COUNT = 500;
    /** SCAN calls per table and request: bounds the work of a list over a large keyspace. */
    private static final int MAX_SCAN_CALLS = 200;

    private final JedisPooled redis;
    private final String aggregates;
    private final String predictions;
    private final int maxLimit;
    private final int metricsMaxSensors;
    private final Map<String, AtomicLong> requests = new ConcurrentHashMap<>();

    RedisQueryApi(JedisPooled redis, String aggregates, String predictions, int maxLimit, int metricsMaxSensors) {
        this.redis = redis;
        this.aggregates = aggregates;
        this.predictions = predictions;
        this.maxLimit = maxLimit;
        this.metricsMaxSensors = metricsMaxSensors;
    }

    public static void main(String[] args) throws Exception {
        String host = env("REDIS_HOST", "127.0.0.1");
        int port = Integer.parseInt(env("REDIS_PORT", "6379"));
        String user = env("REDIS_USERNAME", "");
        String password = env("REDIS_PASSWORD", "");
        JedisPooled redis = user.isEmpty() && password.isEmpty() ? new JedisPooled(host, port)
            : new JedisPooled(host, port, user.isEmpty() ? null : user, password);
        RedisQueryApi api = new RedisQueryApi(redis, env("AGGREGATES_TABLE", "sensor_aggregates"),
            env("PREDICTIONS_TABLE", "sensor_predictions"), Integer.parseInt(env("QUERY_MAX_LIMIT", "100")),
            Integer.parseInt(env("METRICS_MAX_SENSORS", "500")));
        String bind = env("QUERY_HOST", "0.0.0.0");
        HttpServer server = HttpServer.create(new InetSocketAddress(bind, Integer.parseInt(env("QUERY_PORT", "8080"))), 64);
        server.createContext("/", api::handle);
        server.setExecutor(Executors.newFixedThreadPool(4));
        HttpServer metrics = HttpServer.create(
            new InetSocketAddress(bind, Integer.parseInt(env("METRICS_PORT", "9122"))), 8);
        metrics.createContext("/metrics", api::handleMetrics);
        metrics.setExecutor(Executors.newSingleThreadExecutor());
        server.start();
        metrics.start();
        System.out.println("edgeai-query: ready on " + server.getAddress() + ", metrics on " + metrics.getAddress()
            + " (Redis " + host + ":" + port + (user.isEmpty() ? "" : " as " + user) + ")");
        System.out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.stop(1);
            metrics.stop(0);
            redis.close();
        }));
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    // --- HTTP ---------------------------------------------------------------------------------------

    void handle(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getRawPath();
        String endpoint = "other";
        int status;
        String body;
        try {
            if (!"GET".equals(exchange.getRequestMethod())) {
                exchange.getResponseHeaders().set("Allow", "GET");
                status = 405;
                body = error("only GET is served");
            } else if (path.equals("/livez")) {
                endpoint = "livez";
                status = 200;
                body = "{\"status\":\"alive\"}";
            } else if (path.equals("/readyz")) {
                endpoint = "readyz";
                redis.ping();
                status = 200;
                body = "{\"status\":\"ready\"}";
            } else if (path.equals("/v1/query/sensors") || path.equals("/v1/query/sensors/")) {
                endpoint = "list";
                Map<String, String> q = query(exchange.getRequestURI().getRawQuery());
                String prefix = q.getOrDefault("prefix", "");
                String limitText = q.getOrDefault("limit", "50");
                if (!PREFIX.matcher(prefix).matches()) {
                    status = 400;
                    body = error("prefix: at most 128 characters of A-Z a-z 0-9 . _ : -");
                } else if (!limitText.matches("[0-9]{1,6}") || Integer.parseInt(limitText) < 1
                    || Integer.parseInt(limitText) > maxLimit) {
                    status = 400;
                    body = error("limit: a whole number from 1 to " + maxLimit);
                } else {
                    status = 200;
                    body = list(prefix, Integer.parseInt(limitText));
                }
            } else if (path.startsWith("/v1/query/sensors/")) {
                endpoint = "sensor";
                String id = URLDecoder.decode(path.substring("/v1/query/sensors/".length()), StandardCharsets.UTF_8);
                if (!SENSOR_ID.matcher(id).matches()) {
                    status = 400;
                    body = error("sensor id: 1 to 128 characters of A-Z a-z 0-9 . _ : -");
                } else {
                    String sensor = sensor(id);
                    status = sensor == null ? 404 : 200;
                    body = sensor == null ? error("no aggregates or prediction for sensor " + id) : sensor;
                }
            } else {
                status = 404;
                body = error("no such endpoint; GET /v1/query/sensors/<id> or /v1/query/sensors?prefix=");
            }
        } catch (RuntimeException e) {
            // Redis down or refusing: the caller learns the store is unavailable, the log says why.
            System.err.println("edgeai-query: " + endpoint + ": " + e);
            status = 503;
            body = error("the Redis store is unavailable");
        }
        requests.computeIfAbsent(endpoint + "\",code=\"" + status, k -> new AtomicLong()).incrementAndGet();
        reply(exchange, status, body + "\n");
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new TreeMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            out.put(k, v);
        }
        return out;
    }

    private static void reply(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream os = exchange.getResponseBody()) {
            os.write(bytes);
        }
    }

    private static String error(String message) {
        return "{\"error\":" + quote(message) + "}";
    }

    // --- Redis reads ----------------------------------------------------------------------------------

    /** The sensor's JSON object, or null when Redis holds neither its aggregates nor its prediction. */
    String sensor(String id) {
        Map<String, String> agg = redis.hgetAll(RedisStore.rowKey(aggregates, id));
        Map<String, String> pred = redis.hgetAll(RedisStore.rowKey(predictions, id));
        if (agg.isEmpty() && pred.isEmpty()) {
            return null;
        }
        return "{\"sensorId\":" + quote(id) + ",\"aggregates\":" + object(agg, "sensorId")
            + ",\"prediction\":" + object(pred, "sensorId") + "}";
    }

    /** Sensor ids with aggregates or a prediction, starting with prefix, in order; at most limit + 1. */
    TreeSet<String> ids(String prefix, int limit) {
        TreeSet<String> ids = new TreeSet<>();
        for (String table : List.of(aggregates, predictions)) {
            String head = RedisStore.rowKey(table, "");
            ScanParams params = new ScanParams().match(head + prefix + "*").count(SCAN_COUNT);
            String cursor = ScanParams.SCAN_POINTER_START;
            for (int calls = 0; calls < MAX_SCAN_CALLS; calls++) {
                ScanResult<String> page = redis.scan(cursor, params);
                for (String key : page.getResult()) {
                    ids.add(key.substring(head.length()));
                }
                // Keep the lowest limit + 1 ids: enough to answer and to say there are more.
                while (ids.size() > limit + 1) {
                    ids.pollLast();
                }
                cursor = page.getCursor();
                if (page.isCompleteIteration()) {
                    break;
                }
            }
        }
        return ids;
    }

    String list(String prefix, int limit) {
        TreeSet<String> ids = ids(prefix, limit);
        boolean truncated = ids.size() > limit;
        StringBuilder out = new StringBuilder("{\"sensors\":[");
        int n = 0;
        for (String id : ids) {
            if (n == limit) {
                break;
            }
            String sensor = sensor(id);
            if (sensor != null) {   // deleted between SCAN and HGETALL
                out.append(n == 0 ? "" : ",").append(sensor);
                n++;
            }
        }
        return out.append("],\"count\":").append(n).append(",\"limit\":").append(limit)
            .append(",\"truncated\":").append(truncated).append("}").toString();
    }

    /** A hash as a JSON object, numbers as numbers; `skip` is left out (the id, said once). */
    static String object(Map<String, String> hash, String skip) {
        if (hash.isEmpty()) {
            return "null";
        }
        StringBuilder out = new StringBuilder("{");
        for (Map.Entry<String, String> e : new TreeMap<>(hash).entrySet()) {
            if (e.getKey().equals(skip)) {
                continue;
            }
            out.append(out.length() == 1 ? "" : ",").append(quote(e.getKey())).append(':')
                .append(STRING_FIELDS.contains(e.getKey()) ? quote(e.getValue()) : value(e.getValue()));
        }
        return out.append('}').toString();
    }

    private static String value(String v) {
        if (v.matches("-?[0-9]{1,18}")) {
            return v;
        }
        try {
            double d = Double.parseDouble(v);
            if (!Double.isNaN(d) && !Double.isInfinite(d) && v.matches("[-+0-9.eE]+")) {
                return Double.toString(d);
            }
        } catch (NumberFormatException e) {
            // a string
        }
        return quote(v);
    }

    static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    // --- Prometheus -----------------------------------------------------------------------------------

    void handleMetrics(HttpExchange exchange) throws IOException {
        StringBuilder out = new StringBuilder();
        out.append("# HELP edgeai_query_requests_total Requests to the Redis query API, by endpoint and status code\n")
            .append("# TYPE edgeai_query_requests_total counter\n");
        new TreeMap<>(requests).forEach((k, v) ->
            out.append("edgeai_query_requests_total{endpoint=\"").append(k).append("\"} ").append(v.get()).append('\n'));
        int up = 1;
        StringBuilder sensors = new StringBuilder();
        long start = System.nanoTime();
        try {
            sensorGauges(sensors);
        } catch (RuntimeException e) {
            System.err.println("edgeai-query: metrics: " + e);
            up = 0;
            sensors.setLength(0);
        }
        out.append("# HELP edgeai_query_redis_up 1 when the query API read Redis for this scrape\n")
            .append("# TYPE edgeai_query_redis_up gauge\n")
            .append("edgeai_query_redis_up ").append(up).append('\n')
            .append("# HELP edgeai_query_scrape_duration_seconds Time spent reading Redis for this scrape\n")
            .append("# TYPE edgeai_query_scrape_duration_seconds gauge\n")
            .append("edgeai_query_scrape_duration_seconds ").append((System.nanoTime() - start) / 1e9).append('\n')
            .append(sensors);
        byte[] bytes = out.toString().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        exchange.sendResponseHeaders(200, bytes.length);
        try (OutputStream os = exchange.getResponseBody()) {
            os.write(bytes);
        }
    }

    /** Aggregates and latest prediction of the first metricsMaxSensors sensors (by id) as gauges. */
    private void sensorGauges(StringBuilder out) {
        TreeSet<String> ids = ids("", metricsMaxSensors);
        boolean truncated = ids.size() > metricsMaxSensors;
        if (truncated) {
            ids.pollLast();
        }
        Map<String, StringBuilder> families = new LinkedHashMap<>();
        families.put("edgeai_sensor_aggregate", new StringBuilder(
            "# HELP edgeai_sensor_aggregate The sensor's latest windowed aggregates from Redis, by stat\n"
                + "# TYPE edgeai_sensor_aggregate gauge\n"));
        families.put("edgeai_sensor_aggregate_updated_timestamp_seconds", new StringBuilder(
            "# HELP edgeai_sensor_aggregate_updated_timestamp_seconds When the CEP last wrote the sensor's aggregates\n"
                + "# TYPE edgeai_sensor_aggregate_updated_timestamp_seconds gauge\n"));
        families.put("edgeai_sensor_prediction_score", new StringBuilder(
            "# HELP edgeai_sensor_prediction_score The sensor's latest model score from Redis\n"
                + "# TYPE edgeai_sensor_prediction_score gauge\n"));
        families.put("edgeai_sensor_prediction_timestamp_seconds", new StringBuilder(
            "# HELP edgeai_sensor_prediction_timestamp_seconds When the CEP wrote the sensor's latest prediction\n"
                + "# TYPE edgeai_sensor_prediction_timestamp_seconds gauge\n"));
        for (String id : ids) {
            String sensor = label(id);
            Map<String, String> agg = redis.hgetAll(RedisStore.rowKey(aggregates, id));
            for (Map.Entry<String, String> e : new TreeMap<>(agg).entrySet()) {
                Double v = number(e.getValue());
                if (v == null || STRING_FIELDS.contains(e.getKey())) {
                    continue;
                }
                if (e.getKey().equals("updatedAt")) {
                    families.get("edgeai_sensor_aggregate_updated_timestamp_seconds").append(
                        "edgeai_sensor_aggregate_updated_timestamp_seconds{sensor=\"").append(sensor).append("\"} ")
                        .append(v / 1000).append('\n');
                } else {
                    families.get("edgeai_sensor_aggregate").append("edgeai_sensor_aggregate{sensor=\"")
                        .append(sensor).append("\",stat=\"").append(label(e.getKey())).append("\"} ").append(v)
                        .append('\n');
                }
            }
            Map<String, String> pred = redis.hgetAll(RedisStore.rowKey(predictions, id));
            Double score = number(pred.get("score"));
            if (score != null) {
                String model = label(pred.getOrDefault("model", ""));
                families.get("edgeai_sensor_prediction_score").append("edgeai_sensor_prediction_score{sensor=\"")
                    .append(sensor).append("\",model=\"").append(model).append("\"} ").append(score).append('\n');
                Double at = number(pred.get("predictedAt"));
                if (at != null) {
                    families.get("edgeai_sensor_prediction_timestamp_seconds").append(
                        "edgeai_sensor_prediction_timestamp_seconds{sensor=\"").append(sensor)
                        .append("\",model=\"").append(model).append("\"} ").append(at / 1000).append('\n');
                }
            }
        }
        families.values().forEach(out::append);
        out.append("# HELP edgeai_query_sensors Sensors exported as gauges by this scrape\n")
            .append("# TYPE edgeai_query_sensors gauge\n")
            .append("edgeai_query_sensors ").append(ids.size()).append('\n')
            .append("# HELP edgeai_query_sensors_truncated 1 when more sensors exist than METRICS_MAX_SENSORS\n")
            .append("# TYPE edgeai_query_sensors_truncated gauge\n")
            .append("edgeai_query_sensors_truncated ").append(truncated ? 1 : 0).append('\n');
    }

    private static Double number(String v) {
        if (v == null) {
            return null;
        }
        try {
            double d = Double.parseDouble(v);
            return Double.isNaN(d) || Double.isInfinite(d) ? null : d;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String label(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
