/* placeholder until the layer lands */
typedef int dv_sasl_placeholder;
