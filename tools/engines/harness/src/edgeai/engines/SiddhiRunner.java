package edgeai.engines;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.yaml.snakeyaml.Yaml;

import com.sun.net.httpserver.HttpServer;

import io.siddhi.core.SiddhiAppRuntime;
import io.siddhi.core.SiddhiManager;
import io.siddhi.core.util.persistence.FileSystemPersistenceStore;
import io.siddhi.core.util.snapshot.PersistenceReference;

/**
 * The tests' Siddhi runner: the real Siddhi engine (siddhi-core from Maven Central) running every
 * `*.siddhi` file of an apps directory, as the siddhi-runner image does with `-Dapps=DIR`.
 * Placeholders `${NAME}` are resolved by Siddhi itself from system properties and the environment.
 * `--config FILE` is the chart's deployment.yaml overlay: its `state.persistence` section
 * (enabled, intervalInMin, revisionsToKeep, config.location) is honoured with siddhi-core's
 * FileSystemPersistenceStore (the runner's own store has the same settings), the last revision
 * is restored at start.
 *
 * Transports that are only in WSO2's repository are replaced by the stand-ins of this package,
 * registered under the names the app uses: source/sink `kafka`, sinks `http-call` and `http`, source
 * `http-call-response`, store `redis`, sink `prometheus`.
 *
 * With `-Dedgeai.http.port=N` it serves, on 127.0.0.1 (`-Dedgeai.http.host`), the runner REST calls the tests use:
 * `GET /health` and `POST /siddhi-apps/{app}/backup` (persist the app's state now; answers the revision).
 *
 * Prints "edgeai-harness: started APP" per app and "edgeai-harness: ready" on stdout.
 * `--validate` only creates every runtime (compiles the apps) and exits.
 */
public final class SiddhiRunner {
    private SiddhiRunner() {
    }

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable e) {
            // Threads the app already started (sinks, schedulers) would keep a JVM whose main thread
            // failed alive: exit, as a container whose runner fails does.
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(String[] args) throws Exception {
        Path apps = null;
        Path config = null;
        boolean validate = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].startsWith("-Dapps=")) {
                apps = Path.of(args[i].substring("-Dapps=".length()));
            } else if (args[i].equals("--config")) {
                config = Path.of(args[++i]);
            } else if (args[i].equals("--validate")) {
                validate = true;
            } else {
                System.err.println("usage: SiddhiRunner -Dapps=DIR [--config deployment.yaml] [--validate]");
                System.exit(2);
            }
        }
        Map<String, Object> persistence = persistenceSection(config);
        boolean persist = persistence != null && Boolean.TRUE.equals(persistence.get("enabled"));
        KafkaBridgeSource.persistenceEnabled = persist && !validate;

        SiddhiManager manager = new SiddhiManager();
        manager.setExtension("source:kafka", KafkaBridgeSource.class);
        manager.setExtension("sink:kafka", KafkaBridgeSink.class);
        manager.setExtension("sink:http-call", HttpCallSink.class);
        manager.setExtension("sink:http", HttpSink.class);
        manager.setExtension("source:http-call-response", HttpCallResponseSource.class);
        manager.setExtension("store:redis", RedisStore.class);
        manager.setExtension("sink:prometheus", PrometheusSink.class);
        if (persist && !validate) {
            FileSystemPersistenceStore store = new FileSystemPersistenceStore();
            store.setProperties(persistence);
            manager.setPersistenceStore(store);
        }

        List<SiddhiAppRuntime> runtimes = new ArrayList<>();
        List<Path> files;
        try (Stream<Path> s = Files.list(apps)) {
            files = s.filter(p -> p.toString().endsWith(".siddhi")).sorted().toList();
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no .siddhi app in " + apps);
        }
        for (Path file : files) {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            SiddhiAppRuntime runtime = manager.createSiddhiAppRuntime(text);
            if (validate) {
                System.out.println("edgeai-harness: valid " + runtime.getName());
                runtime.shutdown();
                continue;
            }
            if (persist) {
                String revision = runtime.restoreLastRevision();
                System.out.println("edgeai-harness: " + runtime.getName() + " restored revision " + revision);
            }
            runtime.start();
            runtimes.add(runtime);
            System.out.println("edgeai-harness: started " + runtime.getName());
        }
        if (validate) {
            manager.shutdown();
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (SiddhiAppRuntime r : runtimes) {
                r.shutdown();
            }
        }));
        if (persist) {
            long minutes = ((Number) persistence.getOrDefault("intervalInMin", 1)).longValue();
            ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "edgeai-persist");
                t.setDaemon(true);
                return t;
            });
            timer.scheduleAtFixedRate(() -> persistAll(runtimes), minutes, minutes, TimeUnit.MINUTES);
        }
        String port = System.getProperty("edgeai.http.port");
        if (port != null) {
            serve(Integer.parseInt(port), runtimes);
        }
        System.out.println("edgeai-harness: ready");
        System.out.flush();
        Thread.currentThread().join();
    }

    /** Snapshot the app with the Kafka sources held between batches (KafkaBridgeSource.holdAll says why). */
    static PersistenceReference persist(SiddhiAppRuntime r) {
        KafkaBridgeSource.holdAll();
        try {
            return r.persist();     // the snapshot is taken here; the returned future only writes it out
        } finally {
            KafkaBridgeSource.releaseAll();
        }
    }

    /** Persist every app, then flush what the sinks hold and commit the offsets the snapshots captured. */
    static void persistAll(List<SiddhiAppRuntime> runtimes) {
        try {
            for (SiddhiAppRuntime r : runtimes) {
                persist(r).getFuture().get();
            }
            KafkaBridgeSink.flushAll();
            for (KafkaBridgeSource s : KafkaBridgeSource.LIVE) {
                s.commitSnapshot();
            }
            System.out.println("edgeai-harness: persisted");
        } catch (Exception e) {
            System.err.println("edgeai-harness: persist failed: " + e);
        }
    }

    private static void serve(int port, List<SiddhiAppRuntime> runtimes) throws IOException {
        String host = System.getProperty("edgeai.http.host", "127.0.0.1");   // the image listens on 0.0.0.0
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 16);
        server.createContext("/health", exchange -> reply(exchange, 200, "{\"status\":\"healthy\"}"));
        server.createContext("/siddhi-apps/", exchange -> {
            String[] parts = exchange.getRequestURI().getPath().split("/");
            if (parts.length != 4 || !"backup".equals(parts[3]) || !"POST".equals(exchange.getRequestMethod())) {
                reply(exchange, 404, "{}");
                return;
            }
            for (SiddhiAppRuntime r : runtimes) {
                if (r.getName().equals(parts[2])) {
                    try {
                        PersistenceReference ref = persist(r);
                        ref.getFuture().get();
                        persistAll(List.of());   // flush sinks, commit the snapshot's offsets
                        reply(exchange, 200, "{\"revision\":\"" + ref.getRevision() + "\"}");
                    } catch (Exception e) {
                        reply(exchange, 500, "{\"error\":\"" + e + "\"}");
                    }
                    return;
                }
            }
            reply(exchange, 404, "{}");
        });
        server.start();
    }

    private static void reply(com.sun.net.httpserver.HttpExchange exchange, int status, String body)
        throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream os = exchange.getResponseBody()) {
            os.write(bytes);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> persistenceSection(Path config) throws IOException {
        if (config == null) {
            return null;
        }
        Object doc = new Yaml().load(Files.readString(config));
        if (!(doc instanceof Map)) {
            return null;
        }
        return (Map<String, Object>) ((Map<String, Object>) doc).get("state.persistence");
    }
}
