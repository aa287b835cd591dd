package livecounters;

import com.sun.management.HotSpotDiagnosticMXBean;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.TableFunction;
import org.apache.flink.types.Row;

import java.lang.management.ManagementFactory;
import java.time.Instant;

/**
 * The decode step in the job's SQL plan: one row per Kafka record, an event or a dead letter
 * ({@link EventDecoder}). A table function, so the planner calls it once per record (a scalar
 * function returning a row may be called once per field it projects).
 *
 * <p>Its metrics, {@code events_in} and {@code dlq_records}, exist from the operator's start;
 * its gauge {@code direct_memory_max_bytes} is its JVM's limit on direct memory (Flink reports
 * only the direct memory used, and an alert on the TaskManager's headroom needs both); its gauge
 * {@code decoded_age_ms}, the first stage of the latency budget, is how old the newest event
 * it has decoded was when it decoded the last one (wall clock minus the events' own {@code ts}).
 */
@FunctionHint(output = @DataTypeHint("ROW<letter STRING, kind STRING, id_hi BIGINT, "
        + "id_lo BIGINT, room_id BIGINT, gift_id INT, likes BIGINT, gift_count BIGINT, "
        + "gift_value BIGINT, ts BIGINT, late INT>"))
public final class DecodeEvents extends TableFunction<Row> {

    private static final long serialVersionUID = 1L;

    private final String config;
    private transient EventDecoder decoder;
    private transient EventDecoder.Decoded out;
    private transient Counter eventsIn;
    private transient Counter dlqRecords;
    private transient long newestTs;
    private transient volatile long decodedAgeMs;

    /** {@code config}: see {@link EventDecoder#EventDecoder(String)}. */
    public DecodeEvents(String config) {
        this.config = config;
        new EventDecoder(config); // refuse a bad config where the job is built
    }

    @Override
    public void open(FunctionContext context) {
        decoder = new EventDecoder(config);
        out = new EventDecoder.Decoded();
        eventsIn = context.getMetricGroup().counter("events_in");
        dlqRecords = context.getMetricGroup().counter("dlq_records");
        long maxDirect = maxDirectMemory();
        context.getMetricGroup().gauge("direct_memory_max_bytes", (Gauge<Long>) () -> maxDirect);
        newestTs = Long.MIN_VALUE;
        context.getMetricGroup().gauge("decoded_age_ms", (Gauge<Long>) () -> decodedAgeMs);
    }

    /**
     * {@code -XX:MaxDirectMemorySize}, which Flink sets for every TaskManager; without it, the
     * JVM's default (the heap's maximum); -1 if the JVM does not say.
     */
    static long maxDirectMemory() {
        try {
            long set = Long.parseLong(ManagementFactory
                    .getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                    .getVMOption("MaxDirectMemorySize").getValue());
            return set > 0 ? set : Runtime.getRuntime().maxMemory();
        } catch (RuntimeException e) {
            return -1;
        }
    }

    public void eval(byte[] value, String topic, Instant kts, String tsType, byte[] key,
                     Integer partition, Long offset) {
        long now = System.currentTimeMillis();
        decoder.decode(value, topic, kts == null ? null : kts.toEpochMilli(),
                "LogAppendTime".equals(tsType), key, partition == null ? -1 : partition,
                offset == null ? -1 : offset, now, out);
        eventsIn.inc();
        if (out.letter != null) {
            dlqRecords.inc();
        } else if (out.ts > newestTs) {
            newestTs = out.ts;
            decodedAgeMs = now - newestTs;
        }
        collect(Row.of(out.letter, out.kind, out.idHi, out.idLo, out.roomId, out.giftId,
                out.likes, out.giftCount, out.giftValue, out.ts, out.late));
    }
}
