package livecounters.example;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Future;

/**
 * Publishes likes and gifts as live-counters reads them: each event in Avro's single-object
 * encoding ({@link BinaryMessageEncoder} on the schema files), keyed by its room id in ASCII
 * decimal, with an idempotent producer and acks=all. Every send is checked; the program
 * fails rather than drop an event. Prints how many it sent.
 *
 * <p>Arguments: bootstrap servers, likes topic, gifts topic, the schemas directory, events.
 */
public final class ProduceEvents {

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], likesTopic = args[1], giftsTopic = args[2];
        File schemas = new File(args[3]);
        int events = Integer.parseInt(args[4]);
        Schema likeSchema = new Schema.Parser().parse(new File(schemas, "like_event.avsc"));
        Schema giftSchema = new Schema.Parser().parse(new File(schemas, "gift_event.avsc"));
        BinaryMessageEncoder<GenericRecord> likes =
                new BinaryMessageEncoder<>(GenericData.get(), likeSchema);
        BinaryMessageEncoder<GenericRecord> gifts =
                new BinaryMessageEncoder<>(GenericData.get(), giftSchema);

        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG,
                ByteArraySerializer.class.getName());

        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            long now = System.currentTimeMillis();
            for (int i = 0; i < events; i++) {
                long room = 1 + i % 7;
                byte[] key = Long.toString(room).getBytes(StandardCharsets.US_ASCII);
                if (i % 4 == 3) {
                    GenericRecord gift = new GenericData.Record(giftSchema);
                    gift.put("event_id", UUID.randomUUID().toString());
                    gift.put("room_id", room);
                    gift.put("user_id", (long) i);
                    gift.put("gift_id", 1 + i % 3);
                    gift.put("quantity", 1 + i % 2);
                    gift.put("unit_value", 100L * (1 + i % 5));
                    gift.put("ts", now + i);
                    sent.add(producer.send(new ProducerRecord<>(giftsTopic, key,
                            bytes(gifts.encode(gift)))));
                } else {
                    GenericRecord like = new GenericData.Record(likeSchema);
                    like.put("event_id", UUID.randomUUID().toString());
                    like.put("room_id", room);
                    like.put("user_id", (long) i);
                    like.put("count", 1 + i % 3);
                    like.put("ts", now + i);
                    sent.add(producer.send(new ProducerRecord<>(likesTopic, key,
                            bytes(likes.encode(like)))));
                }
            }
            producer.flush();
            for (Future<RecordMetadata> f : sent) {
                f.get(); // throws if Kafka did not acknowledge the event
            }
        }
        System.out.println("sent " + sent.size());
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
