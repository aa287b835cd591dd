package livecounters;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.util.Utf8;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Kafka records to events, or to the dead letter that says why one is not: the counting job's
 * decode step in the JVM.
 *
 * <p>{@code jobs/counters/decode/spec.py} is its executable specification: for every input both
 * give the same event fields and the same dead-letter reason (a differential test feeds both
 * one generated corpus). The event contract's limits, the topics and the schemas come from
 * the Python side as one JSON document ({@code jobs/counters/jvm_decoder.py}), so they have one
 * home. Not thread-safe: one per decode subtask (it keeps the newest event time read).
 */
public final class EventDecoder {

    public static final String LIKE = "like";
    public static final String GIFT = "gift";

    /** One Kafka record, decoded: a dead letter ({@code letter} set) or an event. */
    public static final class Decoded {
        public String letter;
        public String kind;
        public long idHi;
        public long idLo;
        public long roomId;
        public int giftId;
        public long likes;
        public long giftCount;
        public long giftValue;
        public long ts;
        public int late;
    }

    private static final byte MAGIC0 = (byte) 0xC3;
    private static final byte MAGIC1 = (byte) 0x01;
    private static final int HEADER_LEN = 10;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One schema version: how its datums are read, checked and resolved. */
    private static final class Version {
        final String name;
        final GenericDatumReader<GenericRecord> plain;
        final GenericDatumReader<GenericRecord> resolving; // null: the writer is current
        final GenericDatumWriter<GenericRecord> encoder;
        final List<String> stringFields = new ArrayList<>();
        GenericRecord reuse;

        Version(Schema writer, Schema reader) {
            this.name = writer.getFullName();
            this.plain = new GenericDatumReader<>(writer);
            this.resolving = reader == writer ? null : new GenericDatumReader<>(writer, reader);
            this.encoder = new GenericDatumWriter<>(writer);
            for (Schema.Field f : writer.getFields()) {
                if (f.schema().getType() == Schema.Type.STRING) {
                    stringFields.add(f.name());
                }
            }
        }
    }

    private final String likesTopic;
    private final String giftsTopic;
    private final long watermarkDelayMs;
    private final long minTsMs;
    private final long maxAheadMs;
    private final long maxCount;
    private final long maxUnitValue;
    private final long maxEventIdLen;
    private final int dlqMaxValueBytes;
    private final Map<Long, Version> byFingerprint = new HashMap<>();

    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
    private final MessageDigest md5;
    private final ByteArrayOutputStream reencoded = new ByteArrayOutputStream(256);
    private BinaryDecoder decoder;
    private BinaryEncoder encoder;
    private Long newest; // the newest event time read (decode/dead_letter.Lateness)

    /** {@code config}: the JSON document {@code jvm_decoder.decoder_config} writes. */
    public EventDecoder(String config) {
        JsonNode c;
        try {
            c = JSON.readTree(config);
        } catch (Exception e) {
            throw new IllegalArgumentException("decoder config is not JSON: " + e, e);
        }
        likesTopic = c.get("likes_topic").asText();
        giftsTopic = c.get("gifts_topic").asText();
        watermarkDelayMs = c.get("watermark_delay_ms").asLong();
        JsonNode limits = c.get("limits");
        minTsMs = limits.get("min_ts_ms").asLong();
        maxAheadMs = limits.get("max_ahead_ms").asLong();
        maxCount = limits.get("max_count").asLong();
        maxUnitValue = limits.get("max_unit_value").asLong();
        maxEventIdLen = limits.get("max_event_id_len").asLong();
        dlqMaxValueBytes = limits.get("dlq_max_value_bytes").asInt();
        Map<String, Schema> current = new HashMap<>();
        List<Schema> all = new ArrayList<>();
        for (JsonNode s : c.get("schemas")) {
            Schema schema = new Schema.Parser().parse(s.get("json").asText());
            all.add(schema);
            if (s.get("current").asBoolean()) {
                current.put(schema.getFullName(), schema);
            }
        }
        for (Schema writer : all) {
            Schema reader = current.getOrDefault(writer.getFullName(), writer);
            byFingerprint.put(SchemaNormalization.parsingFingerprint64(writer),
                    new Version(writer, reader));
        }
        try {
            md5 = MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * One Kafka record: its value, topic, timestamp in ms (null if none), whether that is the
     * broker's append time, key, partition and offset; {@code nowMs} the job's clock. The "1
     * hour ahead" rule reads the append time where the topic records it, else {@code nowMs}.
     * Never throws for bad input. {@code out} is overwritten.
     */
    public Decoded decode(byte[] value, String topic, Long kafkaTs, boolean appendTime,
                          byte[] key, int partition, long offset, long nowMs, Decoded out) {
        long clock = appendTime && kafkaTs != null && kafkaTs != 0 ? kafkaTs : nowMs;
        String reason = judge(value, topic, clock, out);
        if (reason != null) {
            out.letter = deadLetter(reason, topic, partition, offset, kafkaTs, key, value);
            out.kind = "";
            out.idHi = out.idLo = out.roomId = out.likes = out.giftCount = out.giftValue = 0;
            out.giftId = 0;
            out.ts = 0;
            out.late = 0;
            return out;
        }
        out.letter = null;
        out.late = late(out.ts) ? 1 : 0;
        return out;
    }

    /** The reason a record is not an event (null: it is one, its fields set in {@code out}). */
    private String judge(byte[] data, String topic, long nowMs, Decoded out) {
        int len = data == null ? 0 : data.length;
        if (len < HEADER_LEN) {
            return "too short for a single-object Avro message (" + len + " bytes)";
        }
        if (data[0] != MAGIC0 || data[1] != MAGIC1) {
            return "not single-object Avro: header " + HexFormat.of().formatHex(data, 0, 2)
                    + ", expected c301";
        }
        long fp = ByteBuffer.wrap(data, 2, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        Version v = byFingerprint.get(fp);
        if (v == null) {
            return "unknown schema fingerprint " + HexFormat.of().formatHex(data, 2, HEADER_LEN);
        }
        GenericRecord rec = read(v, data);
        if (rec == null) {
            return "corrupt " + v.name + " datum";
        }
        String eventId;
        try {
            eventId = utf8.reset().decode(asBuffer(rec.get("event_id"))).toString();
        } catch (CharacterCodingException e) {
            return "corrupt " + v.name + " datum";
        }
        String reason = validate(v.name, rec, eventId, nowMs, out);
        if (reason != null) {
            return reason;
        }
        String topicKind = topic.equals(likesTopic) ? LIKE : topic.equals(giftsTopic) ? GIFT : null;
        if (!out.kind.equals(topicKind)) {
            return out.kind + " event on topic " + topic;
        }
        idHash(out.kind, eventId, out);
        return null;
    }

    /**
     * The record in the current version of its schema, or null when the datum is not the
     * canonical Avro encoding of a record of its writer schema: unreadable, followed by
     * trailing bytes, a number encoded longer than needed or out of its type's range, or a
     * string that is not UTF-8. Avro's Java reader accepts some of these; the specification's
     * reader (fastavro) others, so both hold a datum to the bytes a writer makes of it.
     */
    private GenericRecord read(Version v, byte[] data) {
        try {
            decoder = DecoderFactory.get().binaryDecoder(data, HEADER_LEN,
                    data.length - HEADER_LEN, decoder);
            GenericRecord rec = v.plain.read(v.reuse, decoder);
            v.reuse = rec;
            if (!decoder.isEnd()) {
                return null;
            }
            reencoded.reset();
            encoder = EncoderFactory.get().binaryEncoder(reencoded, encoder);
            v.encoder.write(rec, encoder);
            encoder.flush();
            if (!Arrays.equals(reencoded.toByteArray(), 0, reencoded.size(),
                    data, HEADER_LEN, data.length)) {
                return null;
            }
            for (String f : v.stringFields) {
                utf8.reset().decode(asBuffer(rec.get(f)));
            }
            if (v.resolving == null) {
                return rec;
            }
            decoder = DecoderFactory.get().binaryDecoder(data, HEADER_LEN,
                    data.length - HEADER_LEN, decoder);
            return v.resolving.read(null, decoder);
        } catch (Exception e) { // EOF, negative lengths, bad encodings: all corrupt
            return null;
        }
    }

    private static ByteBuffer asBuffer(Object s) {
        if (s instanceof Utf8) {
            Utf8 u = (Utf8) s;
            return ByteBuffer.wrap(u.getBytes(), 0, u.getByteLength());
        }
        return ByteBuffer.wrap(String.valueOf(s).getBytes(StandardCharsets.UTF_8));
    }

    /** connectors/events.py validate: the reason, or null with the event's fields in out. */
    private String validate(String name, GenericRecord rec, String eventId, long nowMs,
                            Decoded out) {
        String kind = name.endsWith("LikeEvent") ? LIKE : name.endsWith("GiftEvent") ? GIFT : null;
        if (kind == null) {
            return "unexpected record type " + name;
        }
        if (eventId.isEmpty()) {
            return "empty event_id";
        }
        int chars = eventId.codePointCount(0, eventId.length());
        if (chars > maxEventIdLen) {
            return "event_id of " + chars + " characters > " + maxEventIdLen;
        }
        long roomId = (Long) rec.get("room_id");
        if (roomId <= 0) {
            return "room_id " + roomId + " <= 0";
        }
        long userId = (Long) rec.get("user_id");
        if (userId < 0) {
            return "user_id " + userId + " < 0";
        }
        long ts = (Long) rec.get("ts");
        if (ts < minTsMs) {
            return "ts " + ts + " before 2020-01-01";
        }
        if (ts > nowMs + maxAheadMs) {
            return "ts " + ts + " more than 1 hour ahead of " + nowMs;
        }
        out.kind = kind;
        out.roomId = roomId;
        out.ts = ts;
        if (kind == LIKE) {
            long count = (Integer) rec.get("count");
            if (count < 1 || count > maxCount) {
                return "count " + count + " outside 1.." + maxCount;
            }
            out.giftId = 0;
            out.likes = count;
            out.giftCount = 0;
            out.giftValue = 0;
            return null;
        }
        long quantity = (Integer) rec.get("quantity");
        if (quantity < 1 || quantity > maxCount) {
            return "quantity " + quantity + " outside 1.." + maxCount;
        }
        long unitValue = (Long) rec.get("unit_value");
        if (unitValue < 0 || unitValue > maxUnitValue) {
            return "unit_value " + unitValue + " outside 0.." + maxUnitValue;
        }
        out.giftId = (Integer) rec.get("gift_id");
        out.likes = 0;
        out.giftCount = quantity;
        out.giftValue = quantity * unitValue;
        return null;
    }

    /** The dedup's key: MD5 of "kind:event_id" as two longs (decode.py id_hash). */
    private void idHash(String kind, String eventId, Decoded out) {
        md5.reset();
        md5.update(kind.getBytes(StandardCharsets.UTF_8));
        md5.update((byte) ':');
        byte[] d = md5.digest(eventId.getBytes(StandardCharsets.UTF_8));
        ByteBuffer b = ByteBuffer.wrap(d);
        out.idHi = b.getLong();
        out.idLo = b.getLong();
    }

    /** decode/dead_letter.Lateness: more than the delay behind the newest event time read before it. */
    private boolean late(long ts) {
        if (newest == null || ts > newest) {
            newest = ts;
            return false;
        }
        return ts < newest - watermarkDelayMs;
    }

    /** decode/dead_letter.dead_letter, as JSON with sorted keys. */
    private String deadLetter(String reason, String topic, int partition, long offset,
                              Long kafkaTs, byte[] key, byte[] value) {
        Map<String, Object> letter = new TreeMap<>();
        letter.put("reason", reason.length() > 1000 ? reason.substring(0, 1000) : reason);
        letter.put("topic", topic);
        letter.put("partition", partition);
        letter.put("offset", offset);
        letter.put("kafka_timestamp", kafkaTs);
        letter.put("key", key == null ? null : base64(key));
        letter.put("value", value == null ? null : base64(value));
        letter.put("value_size", value == null ? null : value.length);
        letter.put("value_sha256", value == null ? null : sha256(value));
        letter.put("value_truncated", value != null && value.length > dlqMaxValueBytes);
        try {
            return JSON.writeValueAsString(letter);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private String base64(byte[] data) {
        return Base64.getEncoder().encodeToString(
                data.length > dlqMaxValueBytes ? Arrays.copyOf(data, dlqMaxValueBytes) : data);
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
