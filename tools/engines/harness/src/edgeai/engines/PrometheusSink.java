package edgeai.engines;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import com.sun.net.httpserver.HttpServer;

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
import io.siddhi.core.util.transport.OptionHolder;
import io.siddhi.query.api.definition.StreamDefinition;

/**
 * Stand-in for siddhi-io-prometheus's sink in `publish.mode='server'` (not on Maven Central): a
 * counter named metric.name, labelled by the stream's other attributes, increased by
 * value.attribute, served in the Prometheus text format at server.url + /metrics.
 * Like the real sink, it pairs the label names, in the stream's declaration order, with the label
 * values in the order the keyvalue mapper's map yields them (a HashMap): an app whose declaration
 * order differs gets its values under the wrong names here as it would in production.
 */
@Extension(name = "prometheus", namespace = "sink", description = "edgeai stand-in for siddhi-io-prometheus",
    parameters = {
        @Parameter(name = "job", type = DataType.STRING, optional = true, defaultValue = "", description = ""),
        @Parameter(name = "publish.mode", type = DataType.STRING, description = ""),
        @Parameter(name = "server.url", type = DataType.STRING, description = ""),
        @Parameter(name = "metric.type", type = DataType.STRING, description = ""),
        @Parameter(name = "metric.name", type = DataType.STRING, description = ""),
        @Parameter(name = "metric.help", type = DataType.STRING, optional = true, defaultValue = "", description = ""),
        @Parameter(name = "value.attribute", type = DataType.STRING, optional = true, defaultValue = "value",
            description = "")
    })
public class PrometheusSink extends Sink<State> {
    private static final Map<String, HttpServer> SERVERS = new ConcurrentHashMap<>();
    private static final Map<String, Map<String, double[]>> METRICS = new ConcurrentHashMap<>();
    private static final Map<String, String> HELP = new ConcurrentHashMap<>();

    private String url;
    private String name;
    private String valueAttribute;
    private List<String> labelNames;

    @Override
    public Class[] getSupportedInputEventClasses() {
        return new Class[]{Map.class};
    }

    @Override
    public String[] getSupportedDynamicOptions() {
        return new String[0];
    }

    @Override
    protected ServiceDeploymentInfo exposeServiceDeploymentInfo() {
        return null;
    }

    @Override
    protected StateFactory<State> init(StreamDefinition definition, OptionHolder optionHolder,
                                       ConfigReader sinkConfigReader, SiddhiAppContext siddhiAppContext) {
        if (!"server".equals(optionHolder.validateAndGetStaticValue("publish.mode"))
            || !"counter".equals(optionHolder.validateAndGetStaticValue("metric.type"))) {
            throw new IllegalArgumentException("prometheus stand-in: only publish.mode='server' counters");
        }
        url = optionHolder.validateAndGetStaticValue("server.url");
        name = optionHolder.validateAndGetStaticValue("metric.name");
        valueAttribute = optionHolder.validateAndGetStaticValue("value.attribute", "value");
        labelNames = new ArrayList<>(Arrays.asList(definition.getAttributeNameArray()));
        labelNames.remove(valueAttribute);
        HELP.put(name, optionHolder.validateAndGetStaticValue("metric.help", ""));
        METRICS.putIfAbsent(name, new ConcurrentHashMap<>());
        return null;
    }

    @Override
    public void publish(Object payload, DynamicOptions dynamicOptions, State state) {
        Map<?, ?> map = (Map<?, ?>) payload;
        List<String> values = new ArrayList<>();
        double value = 0;
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (String.valueOf(e.getKey()).equals(valueAttribute)) {
                value = ((Number) e.getValue()).doubleValue();
            } else {
                values.add(String.valueOf(e.getValue()));
            }
        }
        Map<String, String> labels = new TreeMap<>();
        for (int i = 0; i < labelNames.size() && i < values.size(); i++) {
            labels.put(labelNames.get(i), values.get(i));
        }
        StringBuilder series = new StringBuilder();
        labels.forEach((k, v) -> series.append(series.length() == 0 ? "" : ",").append(k).append("=\"")
            .append(v.replace("\\", "\\\\").replace("\"", "\\\"")).append('"'));
        double[] cell = METRICS.get(name).computeIfAbsent(series.toString(), k -> new double[1]);
        synchronized (cell) {
            cell[0] += value;
        }
    }

    private static byte[] exposition() {
        StringBuilder out = new StringBuilder();
        METRICS.forEach((metric, series) -> {
            out.append("# HELP ").append(metric).append(' ').append(HELP.get(metric)).append('\n');
            out.append("# TYPE ").append(metric).append(" counter\n");
            series.forEach((labels, cell) -> {
                synchronized (cell) {
                    out.append(metric).append('{').append(labels).append("} ").append(cell[0]).append('\n');
                }
            });
        });
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void connect() {
        SERVERS.computeIfAbsent(url, u -> {
            try {
                URI uri = URI.create(u);
                HttpServer server = HttpServer.create(new InetSocketAddress(uri.getHost(), uri.getPort()), 16);
                server.createContext("/metrics", exchange -> {
                    byte[] body = exposition();
                    exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
                    exchange.sendResponseHeaders(200, body.length);
                    try (OutputStream os = exchange.getResponseBody()) {
                        os.write(body);
                    }
                });
                server.start();
                return server;
            } catch (IOException e) {
                throw new IllegalStateException("prometheus stand-in: cannot serve " + u + ": " + e, e);
            }
        });
    }

    @Override
    public void disconnect() {
    }

    @Override
    public void destroy() {
        HttpServer server = SERVERS.remove(url);
        if (server != null) {
            server.stop(0);
        }
    }
}
