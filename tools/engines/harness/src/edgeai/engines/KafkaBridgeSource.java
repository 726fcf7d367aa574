package edgeai.engines;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;

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

/**
 * Stand-in for siddhi-io-kafka's source (not on Maven Central): a real KafkaConsumer, one polling
 * thread (the app asks threading.option='single.thread'), each record handed to the app's mapper
 * synchronously. Offsets: the consumed positions are part of the app's snapshot state (restored
 * ones are seeked to), and are committed to the group only after a snapshot holding them has been
 * persisted (or after every poll when persistence is off): a crash replays from the last persisted
 * state, i.e. at-least-once. A group without committed offsets starts at the earliest record.
 */
@Extension(name = "kafka", namespace = "source", description = "edgeai stand-in for siddhi-io-kafka",
    parameters = {
        @Parameter(name = "bootstrap.servers", type = DataType.STRING, description = ""),
        @Parameter(name = "topic.list", type = DataType.STRING, description = ""),
        @Parameter(name = "group.id", type = DataType.STRING, description = ""),
        @Parameter(name = "threading.option", type = DataType.STRING, description = ""),
        @Parameter(name = "optional.configuration", type = DataType.STRING, optional = true, defaultValue = "",
            description = "")
    })
public class KafkaBridgeSource extends Source<KafkaBridgeSource.OffsetState> {
    /** Every live source; the runner commits their offsets after a persist. */
    static final List<KafkaBridgeSource> LIVE = new CopyOnWriteArrayList<>();
    static volatile boolean persistenceEnabled;
    /** Snapshots being taken: while above 0 no source starts a batch (see holdAll). */
    private static final AtomicInteger HOLDS = new AtomicInteger();

    private SourceEventListener listener;
    private String[] trpNames;
    private Properties props;
    private List<String> topics;
    private volatile KafkaConsumer<String, String> consumer;
    private volatile Thread poller;
    private volatile boolean running;
    private volatile boolean paused;
    private OffsetState state;
    /** Offsets of the last snapshot, to be committed by the polling thread once persisted. */
    private final AtomicReference<Map<TopicPartition, Long>> toCommit = new AtomicReference<>();
    /** Held by the polling thread while it hands a batch to the app. */
    private final Object batchInFlight = new Object();

    /**
     * Before a snapshot: no source starts a batch, and the batch in flight has left the app. Siddhi
     * 5.1's snapshot locks the app's barrier, then waits up to 100 s for the threads inside to leave;
     * but an event on its way into a `partition` enters that barrier a second time and waits for the
     * lock, so the two wait for each other until Siddhi gives up (the app stalls for 100 s and the
     * persist fails). Found by a backup that hung on a loaded machine. Undo with releaseAll.
     */
    static void holdAll() {
        HOLDS.incrementAndGet();
        for (KafkaBridgeSource s : LIVE) {
            synchronized (s.batchInFlight) {
                // entered once the batch in flight is done; the polling thread then sees HOLDS
            }
        }
    }

    static void releaseAll() {
        HOLDS.decrementAndGet();
    }

    /** Next offset to read per partition: what a snapshot captures and a restore seeks to. */
    public static final class OffsetState extends State {
        final Map<String, Long> positions = new ConcurrentHashMap<>();
        volatile Map<String, Long> restored;
        volatile Map<String, Long> lastSnapshot;

        @Override
        public boolean canDestroy() {
            return false;
        }

        @Override
        public Map<String, Object> snapshot() {
            Map<String, Long> copy = new HashMap<>(positions);
            lastSnapshot = copy;
            return new HashMap<>(Map.of("positions", copy));
        }

        @Override
        @SuppressWarnings("unchecked")
        public void restore(Map<String, Object> map) {
            Map<String, Long> r = (Map<String, Long>) map.get("positions");
            restored = r == null ? null : new HashMap<>(r);
            if (r != null) {
                positions.putAll(r);
            }
        }
    }

    @Override
    public StateFactory<OffsetState> init(SourceEventListener sourceEventListener, OptionHolder optionHolder,
                                          String[] requestedTransportPropertyNames, ConfigReader configReader,
                                          SiddhiAppContext siddhiAppContext) {
        this.listener = sourceEventListener;
        this.trpNames = requestedTransportPropertyNames;
        this.topics = List.of(optionHolder.validateAndGetStaticValue("topic.list").split("\\s*,\\s*"));
        props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, optionHolder.validateAndGetStaticValue("bootstrap.servers"));
        props.put(ConsumerConfig.GROUP_ID_CONFIG, optionHolder.validateAndGetStaticValue("group.id"));
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        KafkaOptions.putOptionalConfiguration(props, optionHolder);
        return () -> {
            state = new OffsetState();
            return state;
        };
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
    public void connect(ConnectionCallback connectionCallback, OffsetState offsetState) {
        this.state = offsetState;
        running = true;
        LIVE.add(this);
        poller = new Thread(this::poll, "kafka-source-" + topics);
        poller.setDaemon(true);
        poller.start();
    }

    private void poll() {
        KafkaConsumer<String, String> c = new KafkaConsumer<>(props);
        consumer = c;
        try {
            c.subscribe(topics, new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    Map<String, Long> restored = state.restored;
                    for (TopicPartition tp : partitions) {
                        Long at = restored == null ? null : restored.get(key(tp));
                        if (at != null) {
                            c.seek(tp, at);
                        }
                    }
                    System.err.println("edgeai-harness: kafka source " + topics + " assigned " + partitions.size()
                        + " partition(s)" + (restored == null ? "" : " (restored offsets)"));
                }
            });
            while (running) {
                Map<TopicPartition, Long> commit = toCommit.getAndSet(null);
                if (commit != null && !commit.isEmpty()) {
                    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                    commit.forEach((tp, off) -> offsets.put(tp, new OffsetAndMetadata(off)));
                    c.commitSync(offsets);
                }
                if (paused || HOLDS.get() > 0) {
                    Thread.sleep(paused ? 50 : 5);
                    continue;
                }
                synchronized (batchInFlight) {
                    if (HOLDS.get() == 0) {     // a snapshot may have begun since the check above
                        pollBatch(c);
                    }
                }
            }
        } catch (WakeupException | InterruptedException e) {
            // shutting down
        } catch (Throwable e) {
            // A source that stops polling would stall the app without a sign: stop the runner instead,
            // as a crashing container would be restarted.
            System.err.println("edgeai-harness: kafka source " + topics + " failed: " + e);
            e.printStackTrace();
            Runtime.getRuntime().halt(70);
        } finally {
            c.close(Duration.ofSeconds(5));
        }
    }

    /** One poll's records into the app; without persistence, their offsets committed after it. */
    private void pollBatch(KafkaConsumer<String, String> c) {
        Map<TopicPartition, Long> batch = new HashMap<>();
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
            Object[] trp = new Object[trpNames.length];
            for (int i = 0; i < trpNames.length; i++) {
                trp[i] = switch (trpNames[i]) {
                    case "key" -> r.key();
                    case "partition" -> String.valueOf(r.partition());
                    case "offset" -> String.valueOf(r.offset());
                    case "topic" -> r.topic();
                    default -> null;
                };
            }
            listener.onEvent(r.value(), trp);
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            state.positions.put(key(tp), r.offset() + 1);
            batch.put(tp, r.offset() + 1);
        }
        if (!persistenceEnabled && !batch.isEmpty()) {
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            batch.forEach((tp, off) -> offsets.put(tp, new OffsetAndMetadata(off)));
            KafkaBridgeSink.flushAll();  // what the batch produced is written before it counts as consumed
            c.commitSync(offsets);
        }
    }

    static String key(TopicPartition tp) {
        return tp.topic() + "/" + tp.partition();
    }

    /** After a persist: commit the offsets the snapshot captured (done by the polling thread). */
    void commitSnapshot() {
        Map<String, Long> snap = state == null ? null : state.lastSnapshot;
        if (snap == null) {
            return;
        }
        Map<TopicPartition, Long> commit = new HashMap<>();
        snap.forEach((k, off) -> {
            int slash = k.lastIndexOf('/');
            commit.put(new TopicPartition(k.substring(0, slash), Integer.parseInt(k.substring(slash + 1))), off);
        });
        toCommit.set(commit);
    }

    @Override
    public void disconnect() {
        running = false;
        LIVE.remove(this);
        KafkaConsumer<String, String> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (poller != null) {
            try {
                poller.join(10000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void destroy() {
    }

    @Override
    public void pause() {
        paused = true;
    }

    @Override
    public void resume() {
        paused = false;
    }
}
