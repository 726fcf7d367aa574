package edgeai.engines;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The tests' Kafka client (kafka-clients, the broker's own version): one JVM per call for
 * describe/offsets, and long-lived produce/consume processes driven over stdin/stdout.
 *
 * <pre>
 * describe  BOOTSTRAP TOPIC...            one JSON line per topic: partitions, replicas, ISR, configs
 * groups    BOOTSTRAP GROUP TOPIC...      one JSON line: committed and end offsets per partition
 * produce   BOOTSTRAP TOPIC [k=v...]      reads "key\tvalue" lines; prints "ack SEQ PARTITION OFFSET" or "err SEQ MESSAGE"
 * consume   BOOTSTRAP TOPIC GROUP|- [k=v...]  prints "rec TIMESTAMP_MS RECEIVED_MS PARTITION OFFSET KEY\tVALUE" lines
 * </pre>
 * Extra k=v arguments are client properties (e.g. acks=all).
 */
public final class KafkaTool {
    private KafkaTool() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: KafkaTool describe|groups|produce|consume BOOTSTRAP ...");
            System.exit(2);
        }
        switch (args[0]) {
            case "describe":
                describe(args[1], List.of(args).subList(2, args.length));
                break;
            case "groups":
                groups(args[1], args[2], List.of(args).subList(3, args.length));
                break;
            case "produce":
                produce(args[1], args[2], props(args, 3));
                break;
            case "consume":
                consume(args[1], args[2], args[3], props(args, 4));
                break;
            default:
                System.err.println("unknown command " + args[0]);
                System.exit(2);
        }
    }

    private static Properties props(String[] args, int from) {
        Properties p = new Properties();
        for (int i = from; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            p.setProperty(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        return p;
    }

    static String json(Object o) {
        if (o == null) {
            return "null";
        }
        if (o instanceof Number || o instanceof Boolean) {
            return o.toString();
        }
        if (o instanceof Map) {
            StringBuilder b = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                if (b.length() > 1) {
                    b.append(',');
                }
                b.append(json(String.valueOf(e.getKey()))).append(':').append(json(e.getValue()));
            }
            return b.append('}').toString();
        }
        if (o instanceof Collection) {
            StringBuilder b = new StringBuilder("[");
            for (Object x : (Collection<?>) o) {
                if (b.length() > 1) {
                    b.append(',');
                }
                b.append(json(x));
            }
            return b.append(']').toString();
        }
        String s = o.toString();
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return Admin.create(p);
    }

    private static void describe(String bootstrap, List<String> topics) throws Exception {
        try (Admin admin = admin(bootstrap)) {
            Map<String, TopicDescription> descriptions = admin.describeTopics(topics).allTopicNames().get();
            List<ConfigResource> resources = new ArrayList<>();
            for (String t : topics) {
                resources.add(new ConfigResource(ConfigResource.Type.TOPIC, t));
            }
            Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get();
            for (String t : topics) {
                Map<String, Object> out = new TreeMap<>();
                out.put("topic", t);
                List<Object> partitions = new ArrayList<>();
                for (TopicPartitionInfo info : descriptions.get(t).partitions()) {
                    Map<String, Object> p = new TreeMap<>();
                    p.put("partition", info.partition());
                    p.put("leader", info.leader() == null ? null : info.leader().id());
                    p.put("replicas", info.replicas().stream().map(n -> n.id()).toList());
                    p.put("isr", info.isr().stream().map(n -> n.id()).toList());
                    partitions.add(p);
                }
                out.put("partitions", partitions);
                Map<String, Object> dynamic = new TreeMap<>();
                Map<String, Object> all = new TreeMap<>();
                for (ConfigEntry e : configs.get(new ConfigResource(ConfigResource.Type.TOPIC, t)).entries()) {
                    all.put(e.name(), e.value());
                    if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) {
                        dynamic.put(e.name(), e.value());
                    }
                }
                out.put("topicConfigs", dynamic);
                out.put("effectiveConfigs", all);
                System.out.println(json(out));
            }
        }
    }

    private static void groups(String bootstrap, String group, List<String> topics) throws Exception {
        try (Admin admin = admin(bootstrap)) {
            Map<TopicPartition, OffsetAndMetadata> committed =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            Map<String, TopicDescription> descriptions = admin.describeTopics(topics).allTopicNames().get();
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (TopicDescription d : descriptions.values()) {
                for (TopicPartitionInfo info : d.partitions()) {
                    request.put(new TopicPartition(d.name(), info.partition()), OffsetSpec.latest());
                }
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(request).all().get();
            Map<String, Object> out = new TreeMap<>();
            for (TopicPartition tp : request.keySet()) {
                OffsetAndMetadata c = committed.get(tp);
                out.put(tp.topic() + "/" + tp.partition(),
                    Map.of("committed", c == null ? -1 : c.offset(), "end", ends.get(tp).offset()));
            }
            System.out.println(json(out));
        }
    }

    private static void produce(String bootstrap, String topic, Properties extra) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.putAll(extra);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p);
             BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            long seq = 0;
            while ((line = in.readLine()) != null) {
                if (line.equals("flush")) {
                    producer.flush();
                    synchronized (out) {
                        out.println("flushed " + seq);
                    }
                    continue;
                }
                int tab = line.indexOf('\t');
                String key = tab < 0 ? null : line.substring(0, tab);
                String value = tab < 0 ? line : line.substring(tab + 1);
                final long n = seq++;
                producer.send(new ProducerRecord<>(topic, key, value), (md, err) -> {
                    synchronized (out) {
                        if (err != null) {
                            out.println("err " + n + " " + err.toString().replace('\n', ' '));
                        } else {
                            out.println("ack " + n + " " + md.partition() + " " + md.offset());
                        }
                    }
                });
            }
            producer.flush();
        }
        out.println("closed");
    }

    private static void consume(String bootstrap, String topic, String group, Properties extra) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        boolean grouped = !group.equals("-");
        if (grouped) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        } else {
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        }
        p.putAll(extra);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            if (grouped) {
                consumer.subscribe(List.of(topic));
            } else {
                List<TopicPartition> parts = new ArrayList<>();
                consumer.partitionsFor(topic).forEach(i -> parts.add(new TopicPartition(topic, i.partition())));
                consumer.assign(parts);
                consumer.seekToBeginning(parts);
            }
            out.println("ready");
            Set<TopicPartition> announced = Set.of();
            while (true) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    out.println("rec " + r.timestamp() + " " + System.currentTimeMillis() + " " + r.partition() + " "
                        + r.offset() + " " + r.key() + "\t" + r.value().replace('\n', ' '));
                }
                if (grouped && !consumer.assignment().equals(announced)) {
                    announced = Set.copyOf(consumer.assignment());
                    out.println("assigned " + announced.size());
                }
            }
        }
    }
}
