package edgeai.engines;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

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
 * Stand-in for siddhi-io-kafka's sink (not on Maven Central): a real KafkaProducer (acks=all,
 * idempotent), the record key from the app's `key` template (e.g. {{sensorId}}), the value the
 * JSON mapper's output.
 */
@Extension(name = "kafka", namespace = "sink", description = "edgeai stand-in for siddhi-io-kafka",
    parameters = {
        @Parameter(name = "bootstrap.servers", type = DataType.STRING, description = ""),
        @Parameter(name = "topic", type = DataType.STRING, dynamic = true, description = ""),
        @Parameter(name = "key", type = DataType.STRING, optional = true, dynamic = true, defaultValue = "null",
            description = ""),
        @Parameter(name = "partition.no", type = DataType.INT, optional = true, dynamic = true, defaultValue = "null",
            description = ""),
        @Parameter(name = "optional.configuration", type = DataType.STRING, optional = true, defaultValue = "",
            description = "")
    })
public class KafkaBridgeSink extends Sink<State> {
    static final List<KafkaBridgeSink> LIVE = new CopyOnWriteArrayList<>();
    static final AtomicLong FAILED = new AtomicLong();

    private Option topic;
    private Option key;
    private Option partition;
    private Properties props;
    private volatile KafkaProducer<String, String> producer;

    static void flushAll() {
        for (KafkaBridgeSink s : LIVE) {
            KafkaProducer<String, String> p = s.producer;
            if (p != null) {
                p.flush();
            }
        }
    }

    @Override
    public Class[] getSupportedInputEventClasses() {
        return new Class[]{String.class, byte[].class};
    }

    @Override
    public String[] getSupportedDynamicOptions() {
        return new String[]{"topic", "key", "partition.no"};
    }

    @Override
    protected ServiceDeploymentInfo exposeServiceDeploymentInfo() {
        return null;
    }

    @Override
    protected StateFactory<State> init(StreamDefinition outputStreamDefinition, OptionHolder optionHolder,
                                       ConfigReader sinkConfigReader, SiddhiAppContext siddhiAppContext) {
        topic = optionHolder.validateAndGetOption("topic");
        key = optionHolder.isOptionExists("key") ? optionHolder.validateAndGetOption("key") : null;
        partition = optionHolder.isOptionExists("partition.no") ? optionHolder.validateAndGetOption("partition.no") : null;
        props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, optionHolder.validateAndGetStaticValue("bootstrap.servers"));
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "2");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        KafkaOptions.putOptionalConfiguration(props, optionHolder);
        return null;
    }

    @Override
    public void publish(Object payload, DynamicOptions dynamicOptions, State state) {
        String value = payload instanceof byte[] ? new String((byte[]) payload, StandardCharsets.UTF_8)
            : payload.toString();
        String k = key == null ? null : key.getValue(dynamicOptions);
        Integer p = partition == null ? null : Integer.valueOf(partition.getValue(dynamicOptions));
        producer.send(new ProducerRecord<>(topic.getValue(dynamicOptions), p, k, value), (md, err) -> {
            if (err != null) {
                FAILED.incrementAndGet();
                System.err.println("edgeai-harness: kafka sink " + topic.getValue() + " failed: " + err);
            }
        });
    }

    @Override
    public void connect() {
        producer = new KafkaProducer<>(props);
        LIVE.add(this);
    }

    @Override
    public void disconnect() {
        LIVE.remove(this);
        KafkaProducer<String, String> p = producer;
        producer = null;
        if (p != null) {
            p.close();
        }
    }

    @Override
    public void destroy() {
    }
}
