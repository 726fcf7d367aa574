package edgeai.engines;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import io.siddhi.annotation.Extension;
import io.siddhi.annotation.Parameter;
import io.siddhi.annotation.util.DataType;
import io.siddhi.core.config.SiddhiAppContext;
import io.siddhi.core.event.Event;
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
 * Stand-in for siddhi-io-http's `http-call` sink (its transport, org.wso2.transport.http.netty,
 * is only in WSO2's repository): sends the mapped payload to publisher.url with the app's method,
 * headers ('Name:value' list) and socket.idle.timeout, asynchronously (at most 64 calls in flight),
 * and hands every response to the `http-call-response` sources of the same sink.id whose
 * http.status.code matches, with the request event's attributes as transport properties (trp:).
 */
@Extension(name = "http-call", namespace = "sink", description = "edgeai stand-in for siddhi-io-http http-call",
    parameters = {
        @Parameter(name = "publisher.url", type = DataType.STRING, dynamic = true, description = ""),
        @Parameter(name = "sink.id", type = DataType.STRING, description = ""),
        @Parameter(name = "method", type = DataType.STRING, optional = true, defaultValue = "POST", description = ""),
        @Parameter(name = "headers", type = DataType.STRING, optional = true, defaultValue = "", description = ""),
        @Parameter(name = "socket.idle.timeout", type = DataType.INT, optional = true, defaultValue = "6000",
            description = "")
    })
public class HttpCallSink extends Sink<State> {
    static final AtomicLong CALLS = new AtomicLong();
    static final AtomicLong FAILURES = new AtomicLong();

    private Option url;
    private String sinkId;
    private String[] attributeNames;
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
        sinkId = optionHolder.validateAndGetStaticValue("sink.id");
        Duration timeout = Duration.ofMillis(
            Long.parseLong(optionHolder.validateAndGetStaticValue("socket.idle.timeout", "6000")));
        http = new AsyncHttp(optionHolder.validateAndGetStaticValue("method", "POST"),
            optionHolder.validateAndGetStaticValue("headers", ""), timeout, "http-call-" + sinkId);
        attributeNames = definition.getAttributeNameArray();
        return null;
    }

    @Override
    public void publish(Object payload, DynamicOptions dynamicOptions, State state) {
        Event event = dynamicOptions.getEvent();
        Map<String, String> trp = new HashMap<>();
        Object[] data = event.getData();
        for (int i = 0; i < attributeNames.length && i < data.length; i++) {
            trp.put(attributeNames[i], data[i] == null ? null : String.valueOf(data[i]));
        }
        boolean sent = http.send(url.getValue(dynamicOptions), payload.toString(), (resp, err) -> {
            if (err != null) {
                FAILURES.incrementAndGet();
                System.err.println("edgeai-harness: http-call " + sinkId + " failed: " + err);
                return;
            }
            if (!HttpCallResponseSource.dispatch(sinkId, resp.statusCode(), resp.body(), trp)) {
                FAILURES.incrementAndGet();
                System.err.println("edgeai-harness: http-call " + sinkId + " got " + resp.statusCode()
                    + " and no http-call-response source takes it: " + resp.body());
            }
        });
        if (sent) {
            CALLS.incrementAndGet();
        }
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
