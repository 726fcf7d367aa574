package edgeai.engines;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;

import io.siddhi.annotation.Extension;
import io.siddhi.annotation.Parameter;
import io.siddhi.annotation.util.DataType;
import io.siddhi.core.config.SiddhiAppContext;
import io.siddhi.core.stream.ServiceDeploymentInfo;
import io.siddhi.core.stream.input.source.Source;
import io.siddhi.core.stream.input.source.SourceEventListener;
import io.siddhi.core.util.config.ConfigReader;
import io.siddhi.core.util.snapshot.state.State;
import io.siddhi.core.util.snapshot.state.StateFactory;
import io.siddhi.core.util.transport.OptionHolder;

/** Stand-in for siddhi-io-http's `http-call-response` source: see {@link HttpCallSink}. */
@Extension(name = "http-call-response", namespace = "source",
    description = "edgeai stand-in for siddhi-io-http http-call-response",
    parameters = {
        @Parameter(name = "sink.id", type = DataType.STRING, description = ""),
        @Parameter(name = "http.status.code", type = DataType.STRING, optional = true, defaultValue = "200",
            description = "")
    })
public class HttpCallResponseSource extends Source<State> {
    private static final List<HttpCallResponseSource> SOURCES = new CopyOnWriteArrayList<>();

    private SourceEventListener listener;
    private String[] trpNames;
    private String sinkId;
    private Pattern status;
    private volatile boolean connected;

    static boolean dispatch(String sinkId, int code, String body, Map<String, String> trp) {
        boolean taken = false;
        for (HttpCallResponseSource s : SOURCES) {
            if (s.connected && s.sinkId.equals(sinkId) && s.status.matcher(String.valueOf(code)).matches()) {
                String[] values = new String[s.trpNames.length];
                for (int i = 0; i < values.length; i++) {
                    values[i] = trp.get(s.trpNames[i]);
                }
                s.listener.onEvent(body, values);
                taken = true;
            }
        }
        return taken;
    }

    @Override
    public StateFactory<State> init(SourceEventListener sourceEventListener, OptionHolder optionHolder,
                                    String[] requestedTransportPropertyNames, ConfigReader configReader,
                                    SiddhiAppContext siddhiAppContext) {
        listener = sourceEventListener;
        trpNames = requestedTransportPropertyNames;
        sinkId = optionHolder.validateAndGetStaticValue("sink.id");
        status = Pattern.compile(optionHolder.validateAndGetStaticValue("http.status.code", "200"));
        SOURCES.add(this);
        return null;
    }

    @Override
    public Class[] getOutputEventClasses() {
        return new Class[]{String.class};
    }

    @Override
    protected ServiceDeploymentInfo exposeServiceDeploymentInfo() {
        return null;
    }

    @Override
    public void connect(ConnectionCallback connectionCallback, State state) {
        connected = true;
    }

    @Override
    public void disconnect() {
        connected = false;
    }

    @Override
    public void destroy() {
        SOURCES.remove(this);
    }

    @Override
    public void pause() {
    }

    @Override
    public void resume() {
    }
}
