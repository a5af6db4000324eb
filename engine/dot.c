/* dot.c - Graphviz export of a graph. */
#include "ops.h"

tg_status tg_graph_to_dot(const tg_graph *g, FILE *out)
{
    if (!g || !out) return TG_ERR_ARG;
    char s[64];
    fprintf(out, "digraph tapegrad {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n");
    for (int i = 0; i < g->count; i++) {
        const tg_nrec *r = &g->n[i];
        tg_shape_str(r, s, sizeof s);
        if (r->op == TG_OP_PARAM)
            fprintf(out, "  n%d [shape=ellipse, style=filled, fillcolor=\"#dde8ff\", label=\"%s/%s\\n%s\"];\n",
                    i, tg_param_group(r->param), tg_param_name(r->param), s);
        else if (r->op == TG_OP_INPUT)
            fprintf(out, "  n%d [shape=ellipse, label=\"input %s\\n%s%s\"];\n", i, r->name, s,
                    r->dtype == TG_DT_I32 ? " int32" : "");
        else {
            char attr[48] = "";
            if (r->op == TG_OP_LEAKY_RELU) snprintf(attr, sizeof attr, "(%g)", (double)r->f[0]);
            if (r->op == TG_OP_DROPOUT) snprintf(attr, sizeof attr, "(p=%g)", (double)r->f[0]);
            if (r->op == TG_OP_SCALE) snprintf(attr, sizeof attr, "(%g)", (double)r->f[0]);
            if (r->op == TG_OP_BCE_LOGITS && r->nin == 1) snprintf(attr, sizeof attr, "(t=%g)", (double)r->f[0]);
            if (r->op == TG_OP_MATMUL && (r->i[0] || r->i[1]))
                snprintf(attr, sizeof attr, "(%s%s)", r->i[0] ? "aT" : "a", r->i[1] ? ",bT" : ",b");
            fprintf(out, "  n%d [shape=box%s, label=\"%s%s\\n%s\"];\n", i,
                    r->flags & TG_NF_KEPT ? ", style=bold" : "", tg_optab[r->op]->name, attr, s);
        }
        for (int k = 0; k < r->nin; k++) fprintf(out, "  n%d -> n%d;\n", r->in[k], i);
    }
    fprintf(out, "}\n");
    return ferror(out) ? TG_ERR_IO : TG_OK;
}
