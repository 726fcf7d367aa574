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
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.siddhi.annotation.Extension;
import io.siddhi.annotation.Parameter;
import io.siddhi.annotation.util.DataType;
import io.siddhi.core.config.SiddhiAppContext;
import io.siddhi.core.stream.ServiceDeploymentInfo;
import io.siddhi.core.stream.output.sink.Sink;
import io.siddhi.core.util.config.ConfigReader;
import io.siddhi.core.util.snapshot.state.State;
import io.siddhi.core.util.snapshot.state.StateFactory;
import io.siddhi.core.util.transport.DynamicOptions;
import io.siddhi.core.util.transport.Option;
import io.siddhi.core.util.transport.OptionHolder;
import io.siddhi.query.api.definition.StreamDefinition;

/**
 * Stand-in for siddhi-io-http's fire-and-forget `http` sink (its transport is only in WSO2's
 * repository): sends the mapped payload to publisher.url with the app's method and headers
 * ('Name:value' list), asynchronously so that a slow receiver never holds up the event path (at
 * most 64 requests in flight; past that, publishing waits). A refused or failed request is logged
 * and counted, not retried, as the real sink does without its retry options.
 */
@Extension(name = "http", namespace = "sink", description = "edgeai stand-in for siddhi-io-http http sink",
    parameters = {
        @Parameter(name = "publisher.url", type = DataType.STRING, dynamic = true, description = ""),
        @Parameter(name = "method", type = DataType.STRING, optional = true, defaultValue = "POST", description = ""),
        @Parameter(name = "headers", type = DataType.STRING, optional = true, defaultValue = "", description = "")
    })
public class HttpSink extends Sink<State> {
    static final AtomicLong SENT = new AtomicLong();
    static final AtomicLong FAILURES = new AtomicLong();
    private static final Pattern HEADER = Pattern.compile("'([^':]+):([^']*)'");

    private Option url;
    private String method;
    private final List<String[]> headers = new ArrayList<>();
    private HttpClient client;
    private final Semaphore inFlight = new Semaphore(64);

    @Override
    public Class[] getSupportedInputEventClasses() {
        return new Class[]{String.class};
    }

    @Override
    public String[] getSupportedDynamicOptions() {
        return new String[]{"publisher.url"};
    }

    @Override
    protected ServiceDeploymentInfo exposeServiceDeploymentInfo() {
        return null;
    }

    @Override
    protected StateFactory<State> init(StreamDefinition definition, OptionHolder optionHolder,
                                       ConfigReader sinkConfigReader, SiddhiAppContext siddhiAppContext) {
        url = optionHolder.validateAndGetOption("publisher.url");
        method = optionHolder.validateAndGetStaticValue("method", "POST");
        Matcher m = HEADER.matcher(optionHolder.validateAndGetStaticValue("headers", ""));
        while (m.find()) {
            headers.add(new String[]{m.group(1).trim(), m.group(2).trim()});
        }
        return null;
    }

    @Override
    public void publish(Object payload, DynamicOptions dynamicOptions, State state) {
        String target = url.getValue(dynamicOptions);
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(target)).timeout(Duration.ofSeconds(10))
            .method(method, HttpRequest.BodyPublishers.ofString(payload.toString(), StandardCharsets.UTF_8))
            .header("Content-Type", "application/json");
        for (String[] h : headers) {
            req.setHeader(h[0], h[1]);
        }
        try {
            inFlight.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        client.sendAsync(req.build(), HttpResponse.BodyHandlers.ofString()).whenComplete((resp, err) -> {
            inFlight.release();
            if (err != null || resp.statusCode() >= 300) {
                FAILURES.incrementAndGet();
                System.err.println("edgeai-harness: http sink " + target + " failed: "
                    + (err != null ? err : resp.statusCode() + " " + resp.body()));
                return;
            }
            SENT.incrementAndGet();
        });
    }

    @Override
    public void connect() {
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
            .executor(Executors.newFixedThreadPool(2, r -> {
                Thread t = new Thread(r, "http-sink");
                t.setDaemon(true);
                return t;
            })).build();
    }

    @Override
    public void disconnect() {
    }

    @Override
    public void destroy() {
    }
}
