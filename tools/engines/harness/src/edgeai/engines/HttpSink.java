package edgeai.engines;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

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

    private Option url;
    private AsyncHttp http;

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
        http = new AsyncHttp(optionHolder.validateAndGetStaticValue("method", "POST"),
            optionHolder.validateAndGetStaticValue("headers", ""), Duration.ofSeconds(10), "http-sink");
        return null;
    }

    @Override
    public void publish(Object payload, DynamicOptions dynamicOptions, State state) {
        String target = url.getValue(dynamicOptions);
        http.send(target, payload.toString(), (resp, err) -> {
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
    }

    @Override
    public void disconnect() {
    }

    @Override
    public void destroy() {
    }
}
