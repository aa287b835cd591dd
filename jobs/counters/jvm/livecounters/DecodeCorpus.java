package livecounters;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

/**
 * {@link EventDecoder} over a corpus, for the differential test against its specification
 * ({@code tests/unit/jobs/counters/decode/test_decoder_parity.py}): {@code java livecounters.DecodeCorpus
 * CONFIG_FILE < corpus.jsonl > decoded.jsonl}. One JSON line in per Kafka record (value and
 * key base64 or null, topic, kts, appended, partition, offset, now), one line out with the
 * decoded fields and the dead letter (parsed) or null, in the same order, through one decoder.
 */
public final class DecodeCorpus {

    public static void main(String[] args) throws Exception {
        ObjectMapper json = new ObjectMapper();
        EventDecoder decoder = new EventDecoder(Files.readString(Path.of(args[0])));
        EventDecoder.Decoded d = new EventDecoder.Decoded();
        Base64.Decoder b64 = Base64.getDecoder();
        try (BufferedReader in = new BufferedReader(
                     new InputStreamReader(System.in, StandardCharsets.UTF_8));
             BufferedWriter out = new BufferedWriter(
                     new OutputStreamWriter(System.out, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                JsonNode r = json.readTree(line);
                decoder.decode(
                        r.get("value").isNull() ? null : b64.decode(r.get("value").asText()),
                        r.get("topic").asText(),
                        r.get("kts").isNull() ? null : r.get("kts").asLong(),
                        r.get("appended").asBoolean(),
                        r.get("key").isNull() ? null : b64.decode(r.get("key").asText()),
                        r.get("partition").asInt(), r.get("offset").asLong(),
                        r.get("now").asLong(), d);
                ObjectNode o = json.createObjectNode();
                o.set("letter", d.letter == null ? null : json.readTree(d.letter));
                o.put("kind", d.kind);
                o.put("id_hi", d.idHi);
                o.put("id_lo", d.idLo);
                o.put("room_id", d.roomId);
                o.put("gift_id", d.giftId);
                o.put("likes", d.likes);
                o.put("gift_count", d.giftCount);
                o.put("gift_value", d.giftValue);
                o.put("ts", d.ts);
                o.put("late", d.late);
                out.write(json.writeValueAsString(o));
                out.newLine();
            }
        }
    }
}
