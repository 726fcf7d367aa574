package edgeai.engines;

import java.util.Properties;

import io.siddhi.core.util.transport.OptionHolder;

/** What siddhi-io-kafka's source and sink share: `optional.configuration`, "key:value,key:value" client settings. */
final class KafkaOptions {
    private KafkaOptions() {
    }

    static void putOptionalConfiguration(Properties props, OptionHolder optionHolder) {
        String optional = optionHolder.validateAndGetStaticValue("optional.configuration", "");
        for (String kv : optional.split(",")) {
            int colon = kv.indexOf(':');
            if (colon > 0) {
                props.put(kv.substring(0, colon).trim(), kv.substring(colon + 1).trim());
            }
        }
    }
}
