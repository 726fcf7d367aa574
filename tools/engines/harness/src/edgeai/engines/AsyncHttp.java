package edgeai.engines;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the `http` and `http-call` sink stand-ins share: siddhi-io-http's 'Name:value' header list,
 * one HTTP/1.1 client per sink on two daemon threads, and at most 64 requests in flight (past that,
 * publishing waits, so a slow receiver slows the app down instead of filling its memory).
 */
final class AsyncHttp {
    private static final Pattern HEADER = Pattern.compile("'([^':]+):([^']*)'");

    private final String method;
    private final List<String[]> headers = new ArrayList<>();
    private final Duration timeout;
    private final Semaphore inFlight = new Semaphore(64);
    private final HttpClient client;

    AsyncHttp(String method, String headerList, Duration timeout, String threadName) {
        this.method = method;
        this.timeout = timeout;
        Matcher m = HEADER.matcher(headerList);
        while (m.find()) {
            headers.add(new String[]{m.group(1).trim(), m.group(2).trim()});
        }
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
            .executor(Executors.newFixedThreadPool(2, r -> {
                Thread t = new Thread(r, threadName);
                t.setDaemon(true);
                return t;
            })).build();
    }

    /** Sends the JSON payload; `done` gets the response or the error. False when interrupted while
     * waiting for a slot (nothing sent). */
    boolean send(String url, String payload, BiConsumer<HttpResponse<String>, Throwable> done) {
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(url)).timeout(timeout)
            .method(method, HttpRequest.BodyPublishers.ofString(payload, StandardCharsets.UTF_8))
            .header("Content-Type", "application/json");
        for (String[] h : headers) {
            req.setHeader(h[0], h[1]);
        }
        try {
            inFlight.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        client.sendAsync(req.build(), HttpResponse.BodyHandlers.ofString()).whenComplete((resp, err) -> {
            inFlight.release();
            done.accept(resp, err);
        });
        return true;
    }
}
